using static Hybrid.Core.Gpu.Maths.CkaMaths;

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

    // Throws when HKH (`centred`) is numerically zero relative to K (`k`): every example is the same point in
    // feature space, HSIC(K, K) = 0 and CKA would be 0/0.
    static void NonZeroVariance(double[] k, double[] centred, string name, string operation) =>
        Maths.CkaMaths.NonZeroVariance(FrobeniusNorm(k), FrobeniusNorm(centred), name, operation);
}
