using static Hybrid.Core.Gpu.Maths.CkaMaths;

namespace Hybrid.Core.Gpu.Reference;

/// <summary>Centred kernel alignment (Kornblith et al. 2019), the second half of the CKA specification
/// (ALGORITHMS.md section 4): HSIC estimators, CKA itself, the packed encoding that the similarity search indexes
/// and the feature-space form. Plain loops with double accumulation; the Cpu and ILGPU backends are tested against
/// these, so clarity is preferred over speed. Gram matrices are row-major n x n double arrays.</summary>
internal static partial class ReferenceCka
{
    /// <summary>The biased HSIC as the fixtures define it: sum over i, j of (HKH)[i, j] (HLH)[i, j], without the
    /// 1/(n-1)^2 factor (any constant factor cancels in CKA).</summary>
    public static double Hsic(double[] k, double[] l, int n)
    {
        Gram(k, n, nameof(k), nameof(Hsic));
        Gram(l, n, nameof(l), nameof(Hsic));
        return FrobeniusInner(Centre(k, n), Centre(l, n));
    }

    /// <summary>The unbiased HSIC estimator of Song et al. (2012). With K~ and L~ the Gram matrices with their
    /// diagonals set to zero:
    /// [tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1] / (n(n-3)).
    /// Requires n &gt;= 4.</summary>
    public static double UnbiasedHsic(double[] k, double[] l, int n)
    {
        Examples(n, MinExamplesDebiased, nameof(UnbiasedHsic));
        Gram(k, n, nameof(k), nameof(UnbiasedHsic));
        Gram(l, n, nameof(l), nameof(UnbiasedHsic));
        double[] kz = ZeroDiagonal(k, n), lz = ZeroDiagonal(l, n);

        double trace = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                trace += kz[i * n + j] * lz[j * n + i];

        // 1^T K~ L~ 1 = sum over m of (column m sum of K~) x (row m sum of L~).
        double totalK = 0, totalL = 0, chained = 0;
        for (int m = 0; m < n; m++)
        {
            double columnSumK = 0, rowSumL = 0;
            for (int i = 0; i < n; i++)
            {
                columnSumK += kz[i * n + m];
                rowSumL += lz[m * n + i];
            }
            totalK += columnSumK;
            totalL += rowSumL;
            chained += columnSumK * rowSumL;
        }

        double nn = n;
        double bracket = trace + totalK * totalL / ((nn - 1) * (nn - 2)) - 2 * chained / (nn - 2);
        return bracket / (nn * (nn - 3));
    }

    /// <summary>CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)), with the biased estimator (<see cref="Hsic"/>) or,
    /// when <paramref name="debiased"/>, the unbiased one (<see cref="UnbiasedHsic"/>, n &gt;= 4). Throws when
    /// either kernel has zero variance across examples (CKA would be 0/0) or, debiased, when a self-HSIC estimate
    /// is not positive.</summary>
    public static double Cka(double[] k, double[] l, int n, bool debiased)
    {
        const string operation = nameof(Cka);
        if (debiased) Examples(n, MinExamplesDebiased, operation + " (debiased)");
        Gram(k, n, nameof(k), operation);
        Gram(l, n, nameof(l), operation);
        double[] hkh = Centre(k, n), hlh = Centre(l, n);
        NonZeroVariance(k, hkh, nameof(k), operation);
        NonZeroVariance(l, hlh, nameof(l), operation);

        if (!debiased)
            return FrobeniusInner(hkh, hlh) / Math.Sqrt(FrobeniusInner(hkh, hkh) * FrobeniusInner(hlh, hlh));

        double kk = UnbiasedHsic(k, k, n), ll = UnbiasedHsic(l, l, n);
        if (!(kk > 0 && ll > 0))
            throw new ArgumentException(
                $"{operation} (debiased): the unbiased self-HSIC estimates are HSIC(k, k) = {kk} and HSIC(l, l) = {ll}; " +
                "both must be positive for debiased CKA to be defined (too few examples or too little variance)");
        return UnbiasedHsic(k, l, n) / Math.Sqrt(kk * ll);
    }

    /// <summary>CKA with linear kernels between activations x (n x p) and y (n x q) of the same n examples.</summary>
    public static double LinearCka(float[] x, float[] y, int n, int p, int q, bool debiased = false)
    {
        Activations(x, n, p, nameof(x), nameof(LinearCka));
        Activations(y, n, q, nameof(y), nameof(LinearCka));
        return Cka(LinearGram(x, n, p), LinearGram(y, n, q), n, debiased);
    }

    /// <summary>CKA with RBF kernels (see <see cref="RbfGram"/>); each side's bandwidth comes from its own median
    /// pairwise distance.</summary>
    public static double RbfCka(float[] x, float[] y, int n, int p, int q, double sigmaFraction, bool debiased = false)
    {
        Activations(x, n, p, nameof(x), nameof(RbfCka));
        Activations(y, n, q, nameof(y), nameof(RbfCka));
        return Cka(RbfGram(x, n, p, sigmaFraction), RbfGram(y, n, q, sigmaFraction), n, debiased);
    }

    /// <summary>The n(n+1)/2 entries (i, j), i &lt;= j, of HKH in row-major order, off-diagonal entries scaled by
    /// sqrt(2) so that the packed dot product equals the Frobenius inner product of the full symmetric matrices,
    /// then divided by ||HKH||_F. The dot product of two encodings is therefore the linear CKA of the two
    /// layers. Expects a symmetric K; throws when K has zero variance.</summary>
    public static double[] PackedEncoding(double[] k, int n)
    {
        Gram(k, n, nameof(k), nameof(PackedEncoding));
        double[] hkh = Centre(k, n);
        NonZeroVariance(k, hkh, nameof(k), nameof(PackedEncoding));

        double[] packed = Pack(hkh, n);
        double norm = FrobeniusNorm(packed);
        for (int e = 0; e < packed.Length; e++) packed[e] /= norm;
        return packed;
    }

    /// <summary>Linear CKA in feature space: ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F), where Xc and Yc are
    /// x and y with each column's mean removed. Equal to <see cref="LinearCka"/> (biased) but costs
    /// O(n (p + q)^2) instead of O(n^2 (p + q)), so it is the cheaper form when features are fewer than examples.</summary>
    public static double FeatureSpaceLinearCka(float[] x, float[] y, int n, int p, int q)
    {
        const string operation = nameof(FeatureSpaceLinearCka);
        Activations(x, n, p, nameof(x), operation);
        Activations(y, n, q, nameof(y), operation);
        double[] xd = ToDouble(x), yd = ToDouble(y);
        double[] xc = CentreColumns(xd, n, p), yc = CentreColumns(yd, n, q);

        // ||Xc^T Xc||_F = ||Xc Xc^T||_F = ||HKH||_F and ||X^T X||_F = ||K||_F, so this is the Gram form's check.
        double[] xtx = TransposeTimes(xc, xc, n, p, p), yty = TransposeTimes(yc, yc, n, q, q);
        NonZeroVariance(TransposeTimes(xd, xd, n, p, p), xtx, nameof(x), operation);
        NonZeroVariance(TransposeTimes(yd, yd, n, q, q), yty, nameof(y), operation);

        double cross = FrobeniusNorm(TransposeTimes(yc, xc, n, q, p));
        return cross * cross / (FrobeniusNorm(xtx) * FrobeniusNorm(yty));
    }

    static double FrobeniusInner(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    static double[] ZeroDiagonal(double[] k, int n)
    {
        var copy = (double[])k.Clone();
        for (int i = 0; i < n; i++) copy[i * n + i] = 0;
        return copy;
    }

    static double[] ToDouble(float[] x)
    {
        var d = new double[x.Length];
        for (int i = 0; i < x.Length; i++) d[i] = x[i];
        return d;
    }

    // x (n x p) minus each column's mean.
    static double[] CentreColumns(double[] x, int n, int p)
    {
        var centred = new double[n * p];
        for (int f = 0; f < p; f++)
        {
            double mean = 0;
            for (int i = 0; i < n; i++) mean += x[i * p + f];
            mean /= n;
            for (int i = 0; i < n; i++) centred[i * p + f] = x[i * p + f] - mean;
        }
        return centred;
    }

    // a^T b for a (n x pa) and b (n x pb): the pa x pb matrix of column dot products.
    static double[] TransposeTimes(double[] a, double[] b, int n, int pa, int pb)
    {
        var product = new double[pa * pb];
        for (int r = 0; r < pa; r++)
            for (int c = 0; c < pb; c++)
            {
                double sum = 0;
                for (int i = 0; i < n; i++) sum += a[i * pa + r] * b[i * pb + c];
                product[r * pb + c] = sum;
            }
        return product;
    }
}
