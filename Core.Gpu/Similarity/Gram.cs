using Hybrid.Core.Gpu.Maths;

namespace Hybrid.Core.Gpu;

/// <summary>Gram matrices of a layer's activations and their centring, on any device. Results are row-major n x n
/// float64 host arrays; every product and sum is taken in float64, whatever the device.</summary>
public static class Gram
{
    /// <summary>Relative asymmetry max |K_ij - K_ji| / max |K| above which <see cref="Centre"/> refuses a matrix: loose
    /// enough for kernels computed in float32 elsewhere, tight enough to catch a transposed or mis-shaped array.</summary>
    const double SymmetryTolerance = 1e-6;

    /// <summary>The linear kernel K = X Xᵀ (n x n).</summary>
    public static double[] Linear(Device device, Activations x)
    {
        const string operation = "Gram.Linear";
        x.Check(nameof(x), operation, 1);
        return LinearCore(GramKernels.For(device), x, nameof(x), operation);
    }

    /// <summary>The RBF kernel K[i, j] = exp(-|x_i - x_j|² / (2σ²)), σ = <paramref name="sigmaFraction"/> x the median
    /// distance over the distinct pairs i &lt; j. Needs n &gt;= 2 and two distinct rows.</summary>
    public static double[] Rbf(Device device, Activations x, double sigmaFraction)
    {
        const string operation = "Gram.Rbf";
        x.Check(nameof(x), operation, CkaMaths.MinExamples);
        if (!(double.IsFinite(sigmaFraction) && sigmaFraction > 0))
            throw new ArgumentException($"{operation}: sigmaFraction must be positive and finite, got {sigmaFraction}", nameof(sigmaFraction));
        return RbfCore(GramKernels.For(device), x, sigmaFraction, nameof(x), operation);
    }

    /// <summary>HKH of a symmetric n x n kernel matrix <paramref name="k"/>, with its Frobenius norm and packed encoding.</summary>
    public static CentredGram Centre(Device device, double[] k, int n)
    {
        const string operation = "Gram.Centre";
        CkaMaths.Gram(k, n, nameof(k), operation);
        RequireSymmetric(k, n, operation);
        return CentredGram.Of(GramKernels.For(device), k, n);
    }

    /// <summary>K = X Xᵀ on <paramref name="kernels"/>, refusing non-finite activations (found on K's diagonal).</summary>
    internal static double[] LinearCore(IGramKernels kernels, Activations x, string name, string operation)
    {
        double[] k = kernels.Linear(x);
        x.RequireFiniteDiagonal(k, x.Samples, name, operation);
        return k;
    }

    internal static double[] RbfCore(IGramKernels kernels, Activations x, double sigmaFraction, string name, string operation)
    {
        double[] linear = LinearCore(kernels, x, name, operation);
        double[] squared = kernels.SquaredDistances(x.Data, x.Samples, x.Features, linear);
        return CkaMaths.RbfFromSquaredDistances(squared, x.Samples, sigmaFraction, name, operation);
    }

    /// <summary>The kernel matrix that <paramref name="options"/> asks for (options and x validated by the caller).</summary>
    internal static double[] Kernel(IGramKernels kernels, Activations x, CkaOptions options, string name, string operation) =>
        options.Kernel == CkaKernel.Rbf
            ? RbfCore(kernels, x, options.SigmaFraction, name, operation)
            : LinearCore(kernels, x, name, operation);

    static void RequireSymmetric(double[] k, int n, string operation)
    {
        double largest = 0, asymmetry = 0;
        int worstI = 0, worstJ = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                largest = Math.Max(largest, Math.Abs(k[i * n + j]));
                double gap = Math.Abs(k[i * n + j] - k[j * n + i]);
                if (gap > asymmetry) (asymmetry, worstI, worstJ) = (gap, i, j);
            }
        if (asymmetry > SymmetryTolerance * largest)
            throw new ArgumentException(
                $"{operation}: k is not symmetric: k[{worstI}, {worstJ}] = {k[worstI * n + worstJ]} but k[{worstJ}, {worstI}] = " +
                $"{k[worstJ * n + worstI]} (n = {n}); a kernel matrix must be symmetric", nameof(k));
    }
}
