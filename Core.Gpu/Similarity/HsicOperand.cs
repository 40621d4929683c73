namespace Hybrid.Core.Gpu;

/// <summary>One layer's kernel matrix reduced to what HSIC needs, computed once per layer and reused for every pair
/// it takes part in (the layer-by-layer matrix, minibatch sums): HKH for the biased estimator, or, for the unbiased
/// estimator of Song et al. (2012), K~ (K with a zero diagonal), its column sums and their total. With these, each
/// pair costs one n²-term dot product. Kernel matrices here are exactly symmetric (the Gram kernels mirror one
/// triangle), which the unbiased form relies on: tr(K~ L~) = &lt;K~, L~&gt;_F and 1ᵀK~L~1 = Σ_m colsum(K~)_m colsum(L~)_m.</summary>
internal sealed class HsicOperand
{
    readonly double[]? zeroDiagonal;
    readonly double[]? columnSums;
    readonly double total;

    HsicOperand(CentredGram centred, double[]? k, bool debiased)
    {
        Centred = centred;
        N = centred.N;
        if (debiased)
        {
            int n = N;
            zeroDiagonal = (double[])k!.Clone();
            for (int i = 0; i < n; i++) zeroDiagonal[i * n + i] = 0;
            columnSums = new double[n];
            for (int i = 0; i < n; i++) HostVectors.AddTo(columnSums, zeroDiagonal.AsSpan(i * n, n));
            total = HostVectors.Sum(columnSums);
        }
        Self = Hsic(this, this);
    }

    public CentredGram Centred { get; }

    public int N { get; }

    /// <summary>HSIC(K, K) with this operand's estimator.</summary>
    public double Self { get; }

    /// <summary>False when HKH is zero up to rounding (see <see cref="CentredGram.HasVariance"/>).</summary>
    public bool HasVariance => Centred.HasVariance;

    /// <summary>The operand of layer <paramref name="x"/> (validated by the caller). When <paramref name="requireVariance"/>,
    /// a layer without variance, or with a non-positive unbiased self-HSIC, is refused, naming <paramref name="name"/>.</summary>
    public static HsicOperand Of(IGramKernels kernels, Activations x, CkaOptions options, string name, string operation,
        bool requireVariance)
    {
        double[] k = Gram.Kernel(kernels, x, options, name, operation);
        return OfKernel(kernels, k, x.Samples, options, name, operation, requireVariance);
    }

    /// <summary>The operand of a symmetric n x n kernel matrix <paramref name="k"/> computed as
    /// <paramref name="options"/> asks (see <see cref="Of"/>).</summary>
    public static HsicOperand OfKernel(IGramKernels kernels, double[] k, int n, CkaOptions options, string name,
        string operation, bool requireVariance)
    {
        var centred = CentredGram.Of(kernels, k, n);
        if (requireVariance) centred.RequireVariance(name, operation);
        var operand = new HsicOperand(centred, k, options.Debiased);
        if (requireVariance && options.Debiased && !(operand.Self > 0))
            throw new ArgumentException(
                $"{operation} (debiased): the unbiased estimate of HSIC({name}, {name}) is {operand.Self}; it must be positive " +
                "for debiased CKA to be defined (too few examples or too little variance)", name);
        return operand;
    }

    /// <summary>HSIC(K, L): the biased &lt;HKH, HLH&gt;_F (no 1/(n-1)² factor, as the fixtures define it) or, when
    /// both operands carry the unbiased terms, the unbiased estimator (its own 1/(n(n-3)) included).</summary>
    public static double Hsic(HsicOperand a, HsicOperand b)
    {
        if (a.zeroDiagonal is null || b.zeroDiagonal is null) return HostVectors.Dot(a.Centred.Values, b.Centred.Values);
        double n = a.N;
        double bracket = HostVectors.Dot(a.zeroDiagonal, b.zeroDiagonal)
            + a.total * b.total / ((n - 1) * (n - 2))
            - 2 * HostVectors.Dot(a.columnSums, b.columnSums) / (n - 2);
        return bracket / (n * (n - 3));
    }

    /// <summary>HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)).</summary>
    public static double Cka(HsicOperand a, HsicOperand b) => Hsic(a, b) / Math.Sqrt(a.Self * b.Self);
}
