using Hybrid.Core.Gpu.Maths;

namespace Hybrid.Core.Gpu;

/// <summary>Linear CKA in feature space, ||Ycᵀ Xc||²_F / (||Xcᵀ Xc||_F ||Ycᵀ Yc||_F) with Xc, Yc the column-centred
/// activations. All three blocks come from one Gram matrix of the transposed, stacked activations Z = [X | Y]: ZᵀZ is
/// the backend Gram kernel applied to Zᵀ ((p + q) rows of n values), so the feature-space form runs on the same
/// float64 kernels as the Gram form. Its cost is (p + q)² n / 2 multiply-adds against (p + q) n² / 2 for the two n x n
/// Gram matrices: the cheaper form exactly when p + q &lt; n.</summary>
internal static class FeatureSpaceCka
{
    /// <summary>True when the feature-space form costs less than the Gram form.</summary>
    public static bool Cheaper(Activations x, Activations y) => (long)x.Features + y.Features < x.Samples;

    /// <summary>The CKA of validated x and y (same n).</summary>
    public static double Compute(IGramKernels kernels, Activations x, Activations y, string operation)
    {
        int n = x.Samples, p = x.Features, q = y.Features;
        long m = (long)p + q, stacked = m * n;
        if (stacked > Array.MaxLength || m * m > Array.MaxLength)
            throw new ArgumentException(
                $"{operation}: the feature-space form needs a (p + q) x (p + q) = {m} x {m} matrix for p = {p}, q = {q} " +
                $"(n = {n}), too large for one array; use Cka.Score, whose Gram form is n x n whatever the width", nameof(x));
        var zt = new float[stacked];
        Transpose(x.Data.Span, n, p, zt, 0);
        Transpose(y.Data.Span, n, q, zt, p);
        double[] g = kernels.Linear(new Activations(zt, (int)m, n));

        // G's diagonal holds each feature's sum of squares: finite exactly when that column of X or Y is.
        for (int f = 0; f < m; f++)
            if (!double.IsFinite(g[(long)f * m + f]))
            {
                x.RequireFinite(nameof(x), operation);
                y.RequireFinite(nameof(y), operation);
            }

        // Centring the columns turns G into C = G - s sᵀ / n, s the column sums.
        var sums = new double[m];
        ColumnSums(x.Data.Span, n, p, sums, 0);
        ColumnSums(y.Data.Span, n, q, sums, p);
        double rawXX = 0, rawYY = 0, xx = 0, yy = 0, yx = 0;
        for (int a = 0; a < m; a++)
            for (int b = 0; b < m; b++)
            {
                double raw = g[(long)a * m + b], c = raw - sums[a] * sums[b] / n;
                if (a < p && b < p) (rawXX, xx) = (rawXX + raw * raw, xx + c * c);
                else if (a >= p && b >= p) (rawYY, yy) = (rawYY + raw * raw, yy + c * c);
                else if (a < p) yx += c * c;
            }

        // ||Xcᵀ Xc||_F = ||HKH||_F and ||Xᵀ X||_F = ||K||_F, so this is the Gram form's zero-variance test.
        CkaMaths.NonZeroVariance(Math.Sqrt(rawXX), Math.Sqrt(xx), nameof(x), operation);
        CkaMaths.NonZeroVariance(Math.Sqrt(rawYY), Math.Sqrt(yy), nameof(y), operation);
        return yx / Math.Sqrt(xx * yy);
    }

    /// <summary>Rows first + f of zt (each n long) = column f of the row-major n x p matrix x.</summary>
    static void Transpose(ReadOnlySpan<float> x, int n, int p, float[] zt, int first)
    {
        for (int i = 0; i < n; i++)
            for (int f = 0; f < p; f++)
                zt[(long)(first + f) * n + i] = x[i * p + f];
    }

    static void ColumnSums(ReadOnlySpan<float> x, int n, int p, double[] sums, int first)
    {
        for (int i = 0; i < n; i++)
            for (int f = 0; f < p; f++)
                sums[first + f] += x[i * p + f];
    }
}
