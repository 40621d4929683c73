namespace Hybrid.Core.Gpu;

/// <summary>Centred kernel alignment (Kornblith et al. 2019; ALGORITHMS.md section 4) between layers' activations on
/// the same probe inputs: CKA = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)). Linear or RBF kernels, biased or unbiased
/// HSIC (<see cref="CkaOptions"/>); the Gram matrices run on the device's kernels in float64, the O(n²) pair terms
/// on the host. Bad input (NaN or infinity, mismatched n, n too small, a layer without variance) is refused with an
/// ArgumentException naming the layer; the result is never NaN.</summary>
public static class Cka
{
    /// <summary>The CKA of <paramref name="x"/> (n x p) and <paramref name="y"/> (n x q). Biased linear CKA uses the
    /// feature-space form when p + q &lt; n, where it is the cheaper one (see <see cref="FeatureSpace"/>).</summary>
    public static double Score(Device device, Activations x, Activations y, CkaOptions? options = null)
    {
        const string operation = "Cka.Score";
        options = Checked(options, operation);
        x.Check(nameof(x), operation, options.MinimumSamples);
        y.Check(nameof(y), operation, options.MinimumSamples, x.Samples);
        var kernels = GramKernels.For(device);
        if (options.Kernel == CkaKernel.Linear && !options.Debiased && FeatureSpaceCka.Cheaper(x, y))
            return FeatureSpaceCka.Compute(kernels, x, y, operation);
        var a = HsicOperand.Of(kernels, x, options, nameof(x), operation, requireVariance: true);
        var b = HsicOperand.Of(kernels, y, options, nameof(y), operation, requireVariance: true);
        return HsicOperand.Cka(a, b);
    }

    /// <summary>Biased linear CKA in feature space, ||Ycᵀ Xc||²_F / (||Xcᵀ Xc||_F ||Ycᵀ Yc||_F) with column-centred
    /// Xc, Yc: equal to the Gram form, and cheaper when p + q &lt; n (it costs (p + q)² n instead of (p + q) n²).</summary>
    public static double FeatureSpace(Device device, Activations x, Activations y)
    {
        const string operation = "Cka.FeatureSpace";
        x.Check(nameof(x), operation, Maths.CkaMaths.MinExamples);
        y.Check(nameof(y), operation, Maths.CkaMaths.MinExamples, x.Samples);
        return FeatureSpaceCka.Compute(GramKernels.For(device), x, y, operation);
    }

    /// <summary>The layer-by-layer CKA matrix: entry [i, j] is the CKA of a[i] and b[j]. Every layer's Gram matrix and
    /// centring is computed exactly once; when <paramref name="a"/> and <paramref name="b"/> are the same list object,
    /// once per layer in all and the matrix is exactly symmetric.</summary>
    public static double[,] Matrix(Device device, IReadOnlyList<Activations> a, IReadOnlyList<Activations> b, CkaOptions? options = null)
    {
        const string operation = "Cka.Matrix";
        options = Checked(options, operation);
        int n = CheckLayers(a, nameof(a), operation, options, null);
        bool same = ReferenceEquals(a, b);
        if (!same) CheckLayers(b, nameof(b), operation, options, n);

        var kernels = GramKernels.For(device);
        HsicOperand[] left = Operands(kernels, a, nameof(a), options, operation, requireVariance: true);
        HsicOperand[] right = same ? left : Operands(kernels, b, nameof(b), options, operation, requireVariance: true);
        var result = new double[left.Length, right.Length];
        for (int i = 0; i < left.Length; i++)
            for (int j = 0; j < right.Length; j++)
                result[i, j] = same && j < i ? result[j, i] : HsicOperand.Cka(left[i], right[j]);
        return result;
    }

    /// <summary>The CKA of two layers from their search-index encodings (<see cref="CentredGram.PackedEncoding"/>, both
    /// of the same probe inputs), with any kernel and estimator. An encoding is the layer's centred linear Gram matrix
    /// HKH up to a positive factor, which is all these CKAs need: HKH is the Gram matrix of the column-centred
    /// activations, whose pairwise distances are the activations' own (the RBF bandwidth is a fraction of their median,
    /// so the factor cancels), and the unbiased HSIC of a linear kernel is unchanged by centring the activations (it is a
    /// U-statistic of differences between examples); CKA itself is unchanged by scaling either layer.</summary>
    public static double FromEncodings(Device device, ReadOnlySpan<float> a, ReadOnlySpan<float> b, CkaOptions? options = null)
    {
        const string operation = "Cka.FromEncodings";
        options = Checked(options, operation);
        if (a.Length != b.Length)
            throw new ArgumentException($"{operation}: the encodings hold {a.Length} and {b.Length} values; they must be of the same probe set", nameof(b));
        int n = (int)Math.Round((Math.Sqrt(8.0 * a.Length + 1) - 1) / 2);
        if (n * (n + 1) / 2 != a.Length || n < options.MinimumSamples)
            throw new ArgumentException(
                $"{operation}: {a.Length} values are not the n (n + 1) / 2 of an encoding with n >= {options.MinimumSamples}", nameof(a));
        var kernels = GramKernels.For(device);
        HsicOperand Operand(ReadOnlySpan<float> encoding, string name)
        {
            double[] gram = Maths.CkaMaths.Unpack(encoding, n);
            double[] k = options.Kernel == CkaKernel.Rbf
                ? Maths.CkaMaths.RbfFromSquaredDistances(GramKernels.DistancesFromGram(gram, n), n,
                    options.SigmaFraction, name, operation)
                : gram;
            return HsicOperand.OfKernel(kernels, k, n, options, name, operation, requireVariance: true);
        }
        return HsicOperand.Cka(Operand(a, nameof(a)), Operand(b, nameof(b)));
    }

    internal static CkaOptions Checked(CkaOptions? options, string operation)
    {
        options ??= CkaOptions.Default;
        options.Check(operation);
        return options;
    }

    /// <summary>Checks a non-empty list of layers measured on the same probe inputs (<paramref name="samples"/> of
    /// them when given) and returns their n.</summary>
    internal static int CheckLayers(IReadOnlyList<Activations>? layers, string name, string operation, CkaOptions options, int? samples)
    {
        if (layers is null) throw new ArgumentNullException(name, $"{operation}: {name} is null");
        if (layers.Count == 0) throw new ArgumentException($"{operation}: {name} holds no layers", name);
        for (int i = 0; i < layers.Count; i++)
        {
            layers[i].Check($"{name}[{i}]", operation, options.MinimumSamples, samples);
            samples ??= layers[i].Samples;
        }
        return samples!.Value;
    }

    internal static HsicOperand[] Operands(IGramKernels kernels, IReadOnlyList<Activations> layers, string name,
        CkaOptions options, string operation, bool requireVariance)
    {
        var operands = new HsicOperand[layers.Count];
        for (int i = 0; i < operands.Length; i++)
            operands[i] = HsicOperand.Of(kernels, layers[i], options, $"{name}[{i}]", operation, requireVariance);
        return operands;
    }
}
