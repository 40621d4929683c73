using Hybrid.Core.Gpu.Cpu;
using Hybrid.Core.Gpu.Ilgpu;
using Hybrid.Core.Gpu.Reference;

namespace Hybrid.Core.Gpu;

/// <summary>A float64 Gram matrix being accumulated where its backend computes (host memory, or device memory on the
/// GPU), fed one feature chunk at a time. Not thread-safe.</summary>
internal interface IGramSum : IDisposable
{
    /// <summary>K += X Xᵀ for a row-major n x <paramref name="features"/> float32 chunk (n = the sum's order), every
    /// product and sum in float64.</summary>
    void Add(ReadOnlyMemory<float> x, int features);

    /// <summary>K so far, both triangles (exactly symmetric), row-major n x n.</summary>
    double[] Gram();
}

/// <summary>The O(n² p) and O(n²) halves of CKA that each backend implements: the Gram matrix and its centring. The
/// rest (HSIC of two n x n matrices, the RBF median, packing) is shared host code. Callers have validated shapes;
/// inputs may hold non-finite values, which must flow into the results (NaN stays NaN) rather than throw, so that
/// the public edge can detect them on the Gram diagonal.</summary>
internal interface IGramKernels
{
    /// <summary>A zero n x n accumulator.</summary>
    IGramSum Sum(int n);

    /// <summary>HKH with H = I - 11ᵀ/n (without forming H) and ||HKH||_F, for a finite n x n host matrix.</summary>
    (double[] Centred, double Norm) Centre(double[] k, int n);

    /// <summary>|x_i - x_j|² for every pair of rows of <paramref name="x"/> (n x p), given its linear Gram matrix
    /// <paramref name="gram"/>; zero diagonal.</summary>
    double[] SquaredDistances(ReadOnlyMemory<float> x, int n, int p, double[] gram);
}

/// <summary>Picks the Gram kernels of a device.</summary>
internal static class GramKernels
{
    public static IGramKernels For(Device device) => device switch
    {
        ReferenceDevice => ReferenceGramKernels.Instance,
        CpuDevice => CpuGramKernels.Default,
        GpuDevice gpu => gpu.KernelSet(g => new GpuGramKernels(g)),
        null => throw new ArgumentNullException(nameof(device)),
        _ => throw new ArgumentException($"no Gram kernels for device {device.Name}", nameof(device)),
    };

    /// <summary>One-shot K = X Xᵀ for a whole layer.</summary>
    public static double[] Linear(this IGramKernels kernels, Activations x)
    {
        using var sum = kernels.Sum(x.Samples);
        sum.Add(x.Data, x.Features);
        return sum.Gram();
    }

    /// <summary>|x_i - x_j|² from a Gram matrix: K_ii + K_jj - 2 K_ij, clamped at 0. Products of float32 values are
    /// exact in float64, so each K entry carries only the rounding of a float64 sum of p terms, at most p u |x_i| |x_j|
    /// with u = 2⁻⁵³ (in practice about √p u). The distance therefore errs by at most about 2 p u (|x_i|² + |x_j|²),
    /// 1.5e-11 of the squared norms for p = 65,536: negligible unless two rows nearly coincide, where the cancellation
    /// may leave a tiny negative, clamped to 0. The Cpu and GPU backends use this; the Reference backend subtracts
    /// the rows directly.</summary>
    public static double[] DistancesFromGram(double[] gram, int n)
    {
        var d2 = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                d2[i * n + j] = i == j ? 0.0 : Math.Max(0.0, gram[i * n + i] + gram[j * n + j] - 2.0 * gram[i * n + j]);
        return d2;
    }
}
