using ILGPU;
using ILGPU.Runtime;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>How the M-step reductions split the samples and lay out their partial sums. The samples fall into Slices
/// consecutive slices of SliceLength; each slice writes one block of Block doubles laid out as the host's
/// <see cref="MixtureStatistics"/> (counts k, sums k x d at SumsAt, scatter at ScatterAt, the log-likelihood at LogLikAt).
/// Tiles is the number of 32-wide tiles along d (the full scatter is computed in 32 x 32 tiles).</summary>
internal readonly record struct MomentParams(int Samples, int Dimensions, int Components, int SliceLength, int Slices,
    int Block, int SumsAt, int ScatterAt, int LogLikAt, int Tiles)
{
    /// <summary>At most this many slices: enough groups to fill a large GPU for k = 16, few partial blocks to add.</summary>
    const int MaxSlices = 64;
    /// <summary>At least this many samples per slice, so small problems are not split for nothing.</summary>
    const int MinSliceLength = 512;
    /// <summary>At most this many doubles (128 MiB) of partial blocks, unless one block alone is larger: wide full
    /// scatters (k d² per block) get fewer slices.</summary>
    const int PartialBudget = 1 << 24;

    /// <summary>The layout for n samples; it depends on the shape only (never on the device), so every run on every
    /// accelerator adds the same numbers in the same order.</summary>
    public static MomentParams For(CovarianceType type, int n, int d, int k)
    {
        int scatter = type is CovarianceType.Full or CovarianceType.Tied ? checked(k * d * d) : k * d;
        int block = checked(k + k * d + scatter + 1);
        int slices = Math.Clamp((n + MinSliceLength - 1) / MinSliceLength, 1, Math.Clamp(PartialBudget / block, 1, MaxSlices));
        int length = Math.Max(1, (n + slices - 1) / slices);
        slices = Math.Max(1, (n + length - 1) / length);
        return new(n, d, k, length, slices, block, k, k + k * d, k + k * d + scatter,
            (d + MixtureMomentKernels.TileWidth - 1) / MixtureMomentKernels.TileWidth);
    }

    /// <summary>Upper-triangular tile pairs (ta ≤ tb) of the d x d scatter.</summary>
    public int TilePairs => Tiles * (Tiles + 1) / 2;
}

/// <summary>The M-step reductions over the samples, without atomics: each group sums one slice of samples for one
/// component into its own slot of a partial buffer, and <see cref="SumSlices"/> then adds the slices in a fixed order.
/// Groups are 32 x 8 threads; a warp is one row of 32 threads.</summary>
internal static class MixtureMomentKernels
{
    public const int TileWidth = 32;    // scatter tile edge; threads along X
    public const int Lanes = 8;         // threads along Y
    const int Chunk = 32;               // samples staged per barrier round (16 KiB of shared memory per group)
    const int LogLikelihoodThreads = 256;

    /// <summary>Grid (slices, components, tile pairs) for <see cref="CrossMoments"/>.</summary>
    public static KernelConfig CrossMomentsConfig(in MomentParams p) =>
        new(new Index3D(p.Slices, p.Components, p.TilePairs), new Index3D(TileWidth, Lanes, 1));

    /// <summary>Grid (slices, components, feature blocks of 32) for <see cref="DiagonalMoments"/>.</summary>
    public static KernelConfig DiagonalMomentsConfig(in MomentParams p) =>
        new(new Index3D(p.Slices, p.Components, p.Tiles), new Index3D(TileWidth, Lanes, 1));

    public static KernelConfig LogLikelihoodConfig(in MomentParams p) => new(p.Slices, LogLikelihoodThreads);

    /// <summary>Full and tied: for slice Grid.IdxX and component j = Grid.IdxY, the 32 x 32 tile (ta, tb) = pair Grid.IdxZ
    /// of Σᵢ rᵢⱼ (xᵢ - sⱼ)(xᵢ - sⱼ)ᵀ, written to both triangles; diagonal tiles also yield Σ rᵢⱼ (xᵢ - sⱼ) and (pair 0)
    /// Σ rᵢⱼ. Thread (tx, ty) owns entries (a0 + ty + 8m, b0 + tx), m = 0..3; per round the group stages rᵢⱼ (xᵢ - sⱼ)
    /// over the tile's rows and (xᵢ - sⱼ) over its columns for 32 samples, and every thread adds them in sample order.
    /// Resp is component-major (k x n).</summary>
    public static void CrossMoments(ArrayView<double> x, ArrayView<double> resp, ArrayView<double> shifts,
        ArrayView<double> partial, MomentParams p)
    {
        var weighted = SharedMemory.Allocate1D<double>(Chunk * TileWidth); // [s * 32 + a] = r_s w_s[a0 + a]
        var plain = SharedMemory.Allocate1D<double>(Chunk * TileWidth);    // [s * 32 + b] = w_s[b0 + b]
        var rs = SharedMemory.Allocate1D<double>(Chunk);
        int tx = Group.IdxX, ty = Group.IdxY, thread = ty * TileWidth + tx;
        int slice = Grid.IdxX, j = Grid.IdxY, pair = Grid.IdxZ, d = p.Dimensions, n = p.Samples;
        int ta = 0, rest = pair;
        while (rest >= p.Tiles - ta)
        {
            rest -= p.Tiles - ta;
            ta++;
        }
        int a0 = ta * TileWidth, b0 = (ta + rest) * TileWidth;
        int first = slice * p.SliceLength, end = Math.Min(n, first + p.SliceLength);
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, sum = 0, count = 0;
        for (int i0 = first; i0 < end; i0 += Chunk)
        {
            for (int e = thread; e < Chunk * TileWidth; e += TileWidth * Lanes)
            {
                int s = e / TileWidth, c = e - s * TileWidth, i = i0 + s, a = a0 + c, b = b0 + c;
                bool live = i < end;
                double r = live ? resp[j * n + i] : 0.0;
                // Consecutive threads read consecutive features of one sample: coalesced 256-byte rows.
                weighted[e] = live && a < d ? r * (x[i * d + a] - shifts[j * d + a]) : 0.0;
                plain[e] = live && b < d ? x[i * d + b] - shifts[j * d + b] : 0.0;
            }
            if (thread < Chunk) rs[thread] = i0 + thread < end ? resp[j * n + i0 + thread] : 0.0;
            Group.Barrier();
            for (int s = 0; s < Chunk; s++)
            {
                // A warp shares ty, so the four row reads are broadcasts; the column read is conflict-free.
                double w = plain[s * TileWidth + tx], r = rs[s];
                int row = s * TileWidth + ty;
                s0 += weighted[row] * w; s1 += weighted[row + 8] * w; s2 += weighted[row + 16] * w; s3 += weighted[row + 24] * w;
                sum += r * w;
                count += r;
            }
            Group.Barrier();
        }
        int block = slice * p.Block, scatter = block + p.ScatterAt + j * d * d;
        int b1 = b0 + tx;
        bool diagonal = rest == 0;
        // An off-diagonal tile stands for its mirror image too (the scatter is symmetric), so it writes both.
        StoreSymmetric(partial, scatter, d, a0 + ty, b1, !diagonal, s0);
        StoreSymmetric(partial, scatter, d, a0 + ty + 8, b1, !diagonal, s1);
        StoreSymmetric(partial, scatter, d, a0 + ty + 16, b1, !diagonal, s2);
        StoreSymmetric(partial, scatter, d, a0 + ty + 24, b1, !diagonal, s3);
        if (diagonal && ty == 0 && b1 < d) partial[block + p.SumsAt + j * d + b1] = sum;
        if (pair == 0 && thread == 0) partial[block + j] = count;
    }

    static void StoreSymmetric(ArrayView<double> partial, int scatter, int d, int a, int b, bool mirror, double value)
    {
        if (a >= d || b >= d) return;
        partial[scatter + a * d + b] = value;
        if (mirror) partial[scatter + b * d + a] = value;
    }

    /// <summary>Diag and spherical: for slice Grid.IdxX, component j = Grid.IdxY and features b = 32 Grid.IdxZ + tx,
    /// Σ rᵢⱼ (xᵢ - sⱼ)_b and Σ rᵢⱼ (xᵢ - sⱼ)_b², plus Σ rᵢⱼ in feature block 0. The 8 rows of threads take every 8th sample
    /// (a warp reads one sample's 32 consecutive features) and are then added in row order.</summary>
    public static void DiagonalMoments(ArrayView<double> x, ArrayView<double> resp, ArrayView<double> shifts,
        ArrayView<double> partial, MomentParams p)
    {
        var sums = SharedMemory.Allocate1D<double>(Lanes * TileWidth);
        var squares = SharedMemory.Allocate1D<double>(Lanes * TileWidth);
        var counts = SharedMemory.Allocate1D<double>(Lanes);
        int tx = Group.IdxX, ty = Group.IdxY, slice = Grid.IdxX, j = Grid.IdxY, d = p.Dimensions, n = p.Samples;
        int b = Grid.IdxZ * TileWidth + tx, first = slice * p.SliceLength, end = Math.Min(n, first + p.SliceLength);
        bool live = b < d;
        double sum = 0, square = 0, count = 0;
        for (int i = first + ty; i < end; i += Lanes)
        {
            double r = resp[j * n + i];
            count += r;
            if (!live) continue;
            double w = x[i * d + b] - shifts[j * d + b], rw = r * w;
            sum += rw;
            square += rw * w;
        }
        sums[ty * TileWidth + tx] = sum;
        squares[ty * TileWidth + tx] = square;
        if (tx == 0) counts[ty] = count;
        Group.Barrier();
        if (ty != 0) return;
        double totalSum = 0, totalSquare = 0, totalCount = 0;
        for (int l = 0; l < Lanes; l++)
        {
            totalSum += sums[l * TileWidth + tx];
            totalSquare += squares[l * TileWidth + tx];
            totalCount += counts[l];
        }
        int block = slice * p.Block;
        if (live)
        {
            partial[block + p.SumsAt + j * d + b] = totalSum;
            partial[block + p.ScatterAt + j * d + b] = totalSquare;
        }
        if (Grid.IdxZ == 0 && tx == 0) partial[block + j] = totalCount;
    }

    /// <summary>Σ of the per-sample log-likelihoods of slice Grid.IdxX: strided partial sums, then a fixed tree in shared
    /// memory.</summary>
    public static void SliceLogLikelihood(ArrayView<double> logLikelihood, ArrayView<double> partial, MomentParams p)
    {
        var tree = SharedMemory.Allocate1D<double>(LogLikelihoodThreads);
        int t = Group.IdxX, slice = Grid.IdxX;
        int first = slice * p.SliceLength, end = Math.Min(p.Samples, first + p.SliceLength);
        double sum = 0.0;
        for (int i = first + t; i < end; i += LogLikelihoodThreads) sum += logLikelihood[i];
        tree[t] = sum;
        Group.Barrier();
        for (int half = LogLikelihoodThreads / 2; half > 0; half /= 2)
        {
            if (t < half) tree[t] += tree[t + half];
            Group.Barrier();
        }
        if (t == 0) partial[slice * p.Block + p.LogLikAt] = tree[0];
    }

    /// <summary>totals[e] = Σ over slices, in slice order, of partial[slice * Block + e].</summary>
    public static void SumSlices(Index1D e, ArrayView<double> partial, ArrayView<double> totals, MomentParams p)
    {
        double sum = 0.0;
        for (int slice = 0; slice < p.Slices; slice++) sum += partial[slice * p.Block + e];
        totals[e] = sum;
    }
}
