namespace Hybrid.Core.Gpu.Reference;

/// <summary>Gram matrices and their centring, the first half of the CKA specification (ALGORITHMS.md section 4).
/// Activations are row-major n x p float arrays (one row per probe example); every sum is accumulated in double
/// and every result is a row-major n x n double array.</summary>
internal static partial class ReferenceCka
{
    /// <summary>The linear kernel K = X X^T: K[i, j] is the dot product of examples i and j.</summary>
    public static double[] LinearGram(float[] x, int n, int p)
    {
        Activations(x, n, p, nameof(x), nameof(LinearGram));
        var k = new double[n * n];
        AddLinearGram(x, n, p, k);
        return k;
    }

    /// <summary>k += x x^T for a row-major n x p block, without checks: the Reference backend's Gram kernel, which
    /// accumulates feature chunks into one k.</summary>
    internal static void AddLinearGram(ReadOnlySpan<float> x, int n, int p, double[] k)
    {
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = 0;
            for (int f = 0; f < p; f++) sum += (double)x[i * p + f] * x[j * p + f];
            k[i * n + j] += sum;
        }
    }

    /// <summary>The RBF kernel K[i, j] = exp(-|x_i - x_j|^2 / (2 sigma^2)) with
    /// sigma = <paramref name="sigmaFraction"/> x the median Euclidean distance over the distinct pairs i &lt; j.
    /// The zero self-distances are not counted (Kornblith et al. count them, giving a slightly smaller sigma); an
    /// even number of pairs takes the mean of the two middle distances, as numpy.median does.</summary>
    public static double[] RbfGram(float[] x, int n, int p, double sigmaFraction)
    {
        Activations(x, n, p, nameof(x), nameof(RbfGram));
        if (!(double.IsFinite(sigmaFraction) && sigmaFraction > 0))
            throw new ArgumentException(
                $"{nameof(RbfGram)}: sigmaFraction must be positive and finite, got {sigmaFraction}", nameof(sigmaFraction));

        return RbfFromSquaredDistances(SquaredDistances(x, n, p), n, sigmaFraction, nameof(x), nameof(RbfGram));
    }

    /// <summary>The RBF kernel from the n x n squared distances (see <see cref="RbfGram"/>); throws, naming
    /// <paramref name="name"/>, when the median distance is zero.</summary>
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

    /// <summary>HKH with H = I - 11^T/n, computed without forming H: entry (i, j) of HKH is
    /// K[i, j] - mean of row i - mean of column j + mean of all entries.</summary>
    public static double[] Centre(double[] k, int n)
    {
        Gram(k, n, nameof(k), nameof(Centre));
        var rowMean = new double[n];
        var columnMean = new double[n];
        double grandMean = 0;
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
        {
            rowMean[i] += k[i * n + j];
            columnMean[j] += k[i * n + j];
            grandMean += k[i * n + j];
        }
        for (int i = 0; i < n; i++)
        {
            rowMean[i] /= n;
            columnMean[i] /= n;
        }
        grandMean /= (double)n * n;

        var centred = new double[n * n];
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            centred[i * n + j] = k[i * n + j] - rowMean[i] - columnMean[j] + grandMean;
        return centred;
    }

    // |x_i - x_j|^2 for every ordered pair, n x n with a zero diagonal; the Reference backend's distances for RBF.
    internal static double[] SquaredDistances(ReadOnlySpan<float> x, int n, int p)
    {
        var d2 = new double[n * n];
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = 0;
            for (int f = 0; f < p; f++)
            {
                double diff = (double)x[i * p + f] - x[j * p + f];
                sum += diff * diff;
            }
            d2[i * n + j] = sum;
        }
        return d2;
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

    // Argument checks shared by every entry point. Each throws an ArgumentException whose message names the
    // operation, the argument and the problem.

    // Below this many examples the centred Gram matrix is identically zero, so CKA is undefined.
    internal const int MinExamples = 2;

    // The unbiased HSIC estimator divides by n(n-3) and (n-1)(n-2), so it needs at least four examples.
    internal const int MinExamplesDebiased = 4;

    // A centred Gram matrix whose Frobenius norm is at most this fraction of the raw Gram matrix's norm is treated as
    // zero: the input has no variance and only rounding error is left after centring.
    const double ZeroVarianceRatio = 1e-12;

    static void Examples(int n, int minimum, string operation)
    {
        if (n < minimum)
            throw new ArgumentException($"{operation}: n = {n} examples, but at least {minimum} are required", nameof(n));
    }

    // A row-major n x features activation matrix with finite entries.
    static void Activations(float[] x, int n, int features, string name, string operation)
    {
        ArgumentNullException.ThrowIfNull(x, name);
        Examples(n, MinExamples, operation);
        if (features < 1)
            throw new ArgumentException($"{operation}: {name} has {features} features, but at least 1 is required", name);
        if ((long)n * features != x.Length)
            throw new ArgumentException(
                $"{operation}: {name} has {x.Length} elements, but n x features = {n} x {features} = {(long)n * features}", name);
        for (int i = 0; i < x.Length; i++)
        {
            if (!float.IsFinite(x[i]))
                throw new ArgumentException(
                    $"{operation}: {name}[{i / features}, {i % features}] is {Describe(x[i])}; activations must be finite", name);
        }
    }

    // A square n x n matrix (row-major) with finite entries.
    internal static void Gram(double[] k, int n, string name, string operation)
    {
        ArgumentNullException.ThrowIfNull(k, name);
        Examples(n, MinExamples, operation);
        if ((long)n * n != k.Length)
            throw new ArgumentException(
                $"{operation}: {name} has {k.Length} elements, but an n x n Gram matrix with n = {n} has {(long)n * n}", name);
        for (int i = 0; i < k.Length; i++)
        {
            if (!double.IsFinite(k[i]))
                throw new ArgumentException(
                    $"{operation}: {name}[{i / n}, {i % n}] is {Describe(k[i])}; Gram matrices must be finite", name);
        }
    }

    // Throws when HKH (`centred`) is numerically zero relative to K (`k`): every example is the same point in
    // feature space, HSIC(K, K) = 0 and CKA would be 0/0.
    static void NonZeroVariance(double[] k, double[] centred, string name, string operation) =>
        NonZeroVariance(FrobeniusNorm(k), FrobeniusNorm(centred), name, operation);

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
}
