using ILGPU;
using ILGPU.Runtime;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>Launch parameters of the E-step kernels. Factors of component j start at j * FactorStride (0 for tied: one
/// shared matrix); constants hold log wⱼ at j and log det Uⱼ at Components + j; DLog2Pi is d log 2π.</summary>
internal readonly record struct EStepParams(int Samples, int Dimensions, int Components, int FactorStride, double DLog2Pi);

/// <summary>The E-step on the device. Per-sample, per-component values live component-major (k x n), so that the threads
/// of a warp, one sample each, write and read consecutive addresses.</summary>
internal static class MixtureEStepKernels
{
    /// <summary>Samples per group of the log-density kernels, one per thread.</summary>
    public const int Threads = 128;
    const int Depth = 16;               // features of the data tile staged per barrier round
    const int Columns = 16;             // factor columns accumulated in registers per sweep over the features
    const int Pitch = Threads + 1;      // shared row pitch of the data tile; the pad spreads the staging stores over the banks

    /// <summary>Grid (sample blocks, components) of 128 threads for the log-density kernels.</summary>
    public static KernelConfig LogDensityConfig(int samples, int components) =>
        new(new Index2D((samples + Threads - 1) / Threads, components), new Index2D(Threads, 1));

    /// <summary>logp[j, i] = log wⱼ - ½ (d log 2π + ‖(xᵢ - μⱼ) Uⱼ‖²) + log det Uⱼ with Uⱼ dense d x d (full and tied), for
    /// component j = Grid.IdxY and the 128 samples of block Grid.IdxX. Per sweep over 16 factor columns, each thread keeps
    /// 16 partial products in registers while the group stages 16 features of its samples, centred, and the matching
    /// 16 x 16 block of Uⱼ in shared memory. The squared norm adds the columns in ascending order, as the reference does.</summary>
    public static void LogDensityFull(ArrayView<double> x, ArrayView<double> means, ArrayView<double> factors,
        ArrayView<double> constants, ArrayView<double> logp, EStepParams p)
    {
        var tile = SharedMemory.Allocate1D<double>(Depth * Pitch);   // tile[r * Pitch + s] = x[first + s, r0 + r] - μⱼ[r0 + r]
        var u = SharedMemory.Allocate1D<double>(Depth * Columns);    // u[r * Columns + c] = Uⱼ[r0 + r, c0 + c]
        int t = Group.IdxX, j = Grid.IdxY, first = Grid.IdxX * Threads, d = p.Dimensions;
        int factorBase = j * p.FactorStride;
        double norm = 0.0;
        for (int c0 = 0; c0 < d; c0 += Columns)
        {
            double y0 = 0, y1 = 0, y2 = 0, y3 = 0, y4 = 0, y5 = 0, y6 = 0, y7 = 0;
            double y8 = 0, y9 = 0, y10 = 0, y11 = 0, y12 = 0, y13 = 0, y14 = 0, y15 = 0;
            for (int r0 = 0; r0 < d; r0 += Depth)
            {
                StageCentred(tile, x, means, p, first, j, r0);
                for (int e = t; e < Depth * Columns; e += Threads)
                {
                    int r = e / Columns, c = e - r * Columns, row = r0 + r, column = c0 + c;
                    // Columns past d stage zeros, so their partial products stay 0 and add nothing to the norm.
                    u[e] = row < d && column < d ? factors[factorBase + row * d + column] : 0.0;
                }
                Group.Barrier();
                for (int r = 0; r < Depth; r++)
                {
                    double v = tile[r * Pitch + t];
                    int b = r * Columns;
                    y0 += v * u[b]; y1 += v * u[b + 1]; y2 += v * u[b + 2]; y3 += v * u[b + 3];
                    y4 += v * u[b + 4]; y5 += v * u[b + 5]; y6 += v * u[b + 6]; y7 += v * u[b + 7];
                    y8 += v * u[b + 8]; y9 += v * u[b + 9]; y10 += v * u[b + 10]; y11 += v * u[b + 11];
                    y12 += v * u[b + 12]; y13 += v * u[b + 13]; y14 += v * u[b + 14]; y15 += v * u[b + 15];
                }
                // The next round overwrites the tiles; nobody may still be reading them.
                Group.Barrier();
            }
            norm += y0 * y0; norm += y1 * y1; norm += y2 * y2; norm += y3 * y3;
            norm += y4 * y4; norm += y5 * y5; norm += y6 * y6; norm += y7 * y7;
            norm += y8 * y8; norm += y9 * y9; norm += y10 * y10; norm += y11 * y11;
            norm += y12 * y12; norm += y13 * y13; norm += y14 * y14; norm += y15 * y15;
        }
        Store(logp, constants, p, first + t, j, norm);
    }

    /// <summary>As <see cref="LogDensityFull"/> with a diagonal factor: factors[j * FactorStride + c] scales feature c
    /// (diag; spherical arrives expanded to k x d by the host).</summary>
    public static void LogDensityDiag(ArrayView<double> x, ArrayView<double> means, ArrayView<double> factors,
        ArrayView<double> constants, ArrayView<double> logp, EStepParams p)
    {
        var tile = SharedMemory.Allocate1D<double>(Depth * Pitch);
        var u = SharedMemory.Allocate1D<double>(Depth);
        int t = Group.IdxX, j = Grid.IdxY, first = Grid.IdxX * Threads, d = p.Dimensions;
        double norm = 0.0;
        for (int r0 = 0; r0 < d; r0 += Depth)
        {
            StageCentred(tile, x, means, p, first, j, r0);
            if (t < Depth) u[t] = r0 + t < d ? factors[j * p.FactorStride + r0 + t] : 0.0;
            Group.Barrier();
            for (int r = 0; r < Depth; r++)
            {
                double y = tile[r * Pitch + t] * u[r];
                norm += y * y;
            }
            Group.Barrier();
        }
        Store(logp, constants, p, first + t, j, norm);
    }

    /// <summary>Features [r0, r0 + Depth) of the group's samples, minus μⱼ, into the shared tile (zeros outside the data).
    /// Consecutive threads read consecutive features of one sample, so the loads coalesce into 128-byte rows.</summary>
    static void StageCentred(ArrayView<double> tile, ArrayView<double> x, ArrayView<double> means, EStepParams p,
        int first, int j, int r0)
    {
        int t = Group.IdxX, d = p.Dimensions;
        for (int l = 0; l < Depth; l++)
        {
            int e = t + l * Threads, s = e / Depth, r = e - s * Depth, i = first + s, c = r0 + r;
            tile[r * Pitch + s] = i < p.Samples && c < d ? x[i * d + c] - means[j * d + c] : 0.0;
        }
    }

    // The reference's association, log w - ½ (d log 2π + q) + log det, so the CPU accelerator reproduces it exactly.
    static void Store(ArrayView<double> logp, ArrayView<double> constants, EStepParams p, int i, int j, double norm)
    {
        if (i < p.Samples) logp[j * p.Samples + i] = constants[j] - 0.5 * (p.DLog2Pi + norm) + constants[p.Components + j];
    }

    /// <summary>For sample i: the log-sum-exp of its k weighted log-densities, shifted by their maximum so that a sample
    /// far from every component keeps finite responsibilities, written to logLikelihood[i]; the column is then overwritten
    /// in place with the responsibilities exp(logp - norm). Same order of operations as the reference.</summary>
    public static void Responsibilities(Index1D i, ArrayView<double> values, ArrayView<double> logLikelihood, int samples,
        int components)
    {
        double max = double.NegativeInfinity;
        for (int j = 0; j < components; j++)
        {
            double v = values[j * samples + i];
            max = v > max ? v : max;
        }
        double norm = max;
        if (max != double.NegativeInfinity)
        {
            double sum = 0.0;
            for (int j = 0; j < components; j++) sum += Math.Exp(values[j * samples + i] - max);
            norm = max + Math.Log(sum);
        }
        for (int j = 0; j < components; j++) values[j * samples + i] = Math.Exp(values[j * samples + i] - norm);
        logLikelihood[i] = norm;
    }
}
