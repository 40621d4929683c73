namespace Hybrid.Core.Gpu.Maths;

/// <summary>What every CKA backend shares with the specification: the argument checks (example counts, finite
/// activations and Gram matrices, the zero-variance test), the Frobenius norm, the packed upper-triangle encoding and the
/// RBF kernel from squared distances. Nothing here is a kernel under test.</summary>
internal static class CkaMaths
{
    // Argument checks shared by every entry point. Each throws an ArgumentException whose message names the
    // operation, the argument and the problem.

    // Below this many examples the centred Gram matrix is identically zero, so CKA is undefined.
    internal const int MinExamples = 2;

    // The unbiased HSIC estimator divides by n(n-3) and (n-1)(n-2), so it needs at least four examples.
    internal const int MinExamplesDebiased = 4;

    // A centred Gram matrix whose Frobenius norm is at most this fraction of the raw Gram matrix's norm is treated as
    // zero: the input has no variance and only rounding error is left after centring.
    const double ZeroVarianceRatio = 1e-12;

    internal static void Examples(int n, int minimum, string operation)
    {
        if (n < minimum)
            throw new ArgumentException($"{operation}: n = {n} examples, but at least {minimum} are required", nameof(n));
    }

    // A row-major n x features activation matrix with finite entries.
    internal static void Activations(float[] x, int n, int features, string name, string operation)
    {
        ArgumentNullException.ThrowIfNull(x, name);
        Examples(n, MinExamples, operation);
        if (features < 1)
            throw new ArgumentException($"{operation}: {name} has {features} features, but at least 1 is required", name);
        if ((long)n * features != x.Length)
            throw new ArgumentException(
                $"{operation}: {name} has {x.Length} elements, but n x features = {n} x {features} = {(long)n * features}", name);
        Finite<float>(x, features, name, operation, "activations");
    }

    // A square n x n matrix (row-major) with finite entries.
    internal static void Gram(double[] k, int n, string name, string operation)
    {
        ArgumentNullException.ThrowIfNull(k, name);
        Examples(n, MinExamples, operation);
        if ((long)n * n != k.Length)
            throw new ArgumentException(
                $"{operation}: {name} has {k.Length} elements, but an n x n Gram matrix with n = {n} has {(long)n * n}", name);
        Finite<double>(k, n, name, operation, "Gram matrices");
    }

    // Every entry of a row-major matrix with the given number of columns is finite; the first that is not is named.
    static void Finite<T>(ReadOnlySpan<T> m, int columns, string name, string operation, string what) where T : IFloatingPointIeee754<T>
    {
        for (int i = 0; i < m.Length; i++)
        {
            if (!T.IsFinite(m[i]))
                throw new ArgumentException(
                    $"{operation}: {name}[{i / columns}, {i % columns}] is {Describe(double.CreateTruncating(m[i]))}; {what} must be finite", name);
        }
    }

    /// <summary>The same test from the norms ||K||_F (<paramref name="raw"/>) and ||HKH||_F (<paramref name="kept"/>).</summary>
    internal static void NonZeroVariance(double raw, double kept, string name, string operation)
    {
        if (!HasVariance(raw, kept))
            throw new ArgumentException(
                $"{operation}: {name} has zero variance across examples (HSIC({name}, {name}) = 0), so CKA is undefined", name);
    }

    internal static bool HasVariance(double raw, double kept) => kept > ZeroVarianceRatio * raw;

    // Spelled out because the invariant culture writes infinity as a symbol.
    internal static string Describe(double value) =>
        double.IsNaN(value) ? "NaN" : value > 0 ? "+Infinity" : "-Infinity";

    internal static double FrobeniusNorm(double[] a)
    {
        double sum = 0;
        foreach (double v in a) sum += v * v;
        return Math.Sqrt(sum);
    }

    /// <summary>The RBF kernel K[i, j] = exp(-d2[i, j] / (2 sigma^2)) from the n x n squared distances d2, with sigma =
    /// <paramref name="sigmaFraction"/> x the median distance over the distinct pairs; throws, naming <paramref name="name"/>,
    /// when that median is zero.</summary>
    internal static double[] RbfFromSquaredDistances(double[] squared, int n, double sigmaFraction, string name, string operation)
    {
        double sigma = sigmaFraction * MedianPairDistance(squared, n);
        if (!(sigma > 0))
            throw new ArgumentException(
                $"{operation}: the median distance between distinct examples is 0, so the RBF bandwidth is zero; " +
                $"{name} has (almost) no variance across examples", name);

        var k = new double[n * n];
        for (int i = 0; i < n * n; i++) k[i] = Math.Exp(-squared[i] / (2 * sigma * sigma));
        return k;
    }

    // The median of sqrt(d2[i, j]) over i < j; n >= 2 guarantees at least one pair.
    static double MedianPairDistance(double[] squared, int n)
    {
        var distances = new List<double>(n * (n - 1) / 2);
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                distances.Add(Math.Sqrt(squared[i * n + j]));
        distances.Sort();

        int count = distances.Count, middle = count / 2;
        return count % 2 == 1 ? distances[middle] : (distances[middle - 1] + distances[middle]) / 2;
    }

    /// <summary>The upper triangle (i &lt;= j, row-major) of a symmetric n x n matrix with off-diagonal entries
    /// scaled by sqrt(2), so that packed dot products equal Frobenius inner products; not normalised.</summary>
    internal static double[] Pack(ReadOnlySpan<double> symmetric, int n)
    {
        var packed = new double[n * (n + 1) / 2];
        int next = 0;
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++)
                packed[next++] = i == j ? symmetric[i * n + j] : Math.Sqrt(2) * symmetric[i * n + j];
        return packed;
    }

    /// <summary>The symmetric n x n matrix of a packed upper triangle (the inverse of <see cref="Pack"/>).</summary>
    internal static double[] Unpack(ReadOnlySpan<float> packed, int n)
    {
        var symmetric = new double[n * n];
        int next = 0;
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++)
            {
                double v = i == j ? packed[next++] : packed[next++] / Math.Sqrt(2);
                symmetric[i * n + j] = v;
                symmetric[j * n + i] = v;
            }
        return symmetric;
    }
}
