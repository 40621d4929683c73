namespace Hybrid.Core.Gpu;

/// <summary>Minibatch CKA (Nguyen, Raghu and Kornblith 2021) for probe sets larger than memory: for each minibatch
/// of probe inputs, the HSIC of every pair of layers (a[i], b[j]) and of every layer with itself is added up, and
/// CKA[i, j] = mean HSIC(K_i, L_j) / sqrt(mean HSIC(K_i, K_i) mean HSIC(L_j, L_j)). With
/// <see cref="CkaOptions.Debiased"/> (the paper's choice, and the one that converges to the full-data CKA) each
/// batch uses the unbiased HSIC estimator; otherwise the biased &lt;HKH, HLH&gt; / (n - 1)², which lets batches of
/// different sizes be averaged. One batch gives exactly the full-batch CKA of <see cref="Cka.Matrix"/>.
/// Not thread-safe.</summary>
public sealed class MinibatchCka
{
    readonly IGramKernels kernels;
    readonly CkaOptions options;
    double[,]? cross;
    double[]? selfA, selfB;

    /// <summary>An empty accumulation on <paramref name="device"/>.</summary>
    public MinibatchCka(Device device, CkaOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        kernels = GramKernels.For(device);
        this.options = Cka.Checked(options, "MinibatchCka");
    }

    /// <summary>Batches added so far.</summary>
    public int Batches { get; private set; }

    /// <summary>Adds one minibatch: the activations of every layer of model A (<paramref name="batchA"/>) and of model B
    /// (<paramref name="batchB"/>) on the same probe inputs. The layer counts must not change between batches; n may.
    /// Pass the same list object twice to compare a model with itself (each Gram matrix is then computed once).</summary>
    public void Add(IReadOnlyList<Activations> batchA, IReadOnlyList<Activations> batchB)
    {
        const string operation = "MinibatchCka.Add";
        int n = Cka.CheckLayers(batchA, nameof(batchA), operation, options, null);
        bool same = ReferenceEquals(batchA, batchB);
        if (!same) Cka.CheckLayers(batchB, nameof(batchB), operation, options, n);
        if (cross is not null && (batchA.Count != cross.GetLength(0) || batchB.Count != cross.GetLength(1)))
            throw new ArgumentException(
                $"{operation}: this batch has {batchA.Count} x {batchB.Count} layers, but earlier batches had " +
                $"{cross.GetLength(0)} x {cross.GetLength(1)}", nameof(batchA));

        HsicOperand[] a = Cka.Operands(kernels, batchA, nameof(batchA), options, operation, requireVariance: false);
        HsicOperand[] b = same ? a : Cka.Operands(kernels, batchB, nameof(batchB), options, operation, requireVariance: false);
        cross ??= new double[a.Length, b.Length];
        selfA ??= new double[a.Length];
        selfB ??= new double[b.Length];

        // A layer that is constant on this batch contributes nothing (its HKH is rounding noise, not signal).
        double scale = options.Debiased ? 1.0 : 1.0 / ((n - 1.0) * (n - 1.0));
        double Hsic(HsicOperand u, HsicOperand v) =>
            u.HasVariance && v.HasVariance ? scale * HsicOperand.Hsic(u, v) : 0.0;
        for (int i = 0; i < a.Length; i++) selfA[i] += Hsic(a[i], a[i]);
        for (int j = 0; j < b.Length; j++) selfB[j] += same ? Hsic(a[j], a[j]) : Hsic(b[j], b[j]);
        for (int i = 0; i < a.Length; i++)
            for (int j = same ? i : 0; j < b.Length; j++)
            {
                double h = Hsic(a[i], b[j]);
                cross[i, j] += h;
                // Comparing a model with itself: HSIC is symmetric, so the lower triangle is the upper one, exactly.
                if (same && j != i) cross[j, i] += h;
            }
        Batches++;
    }

    /// <summary>The CKA matrix over the batches so far (more may be added afterwards). Throws when a layer had no
    /// variance in any batch (or, debiased, a non-positive mean self-HSIC): its CKA is undefined.</summary>
    public double[,] Result()
    {
        const string operation = "MinibatchCka.Result";
        if (cross is null || selfA is null || selfB is null)
            throw new InvalidOperationException($"{operation}: no batch has been added");
        RequirePositive(selfA, "batchA", operation);
        RequirePositive(selfB, "batchB", operation);
        var result = new double[selfA.Length, selfB.Length];
        for (int i = 0; i < selfA.Length; i++)
            for (int j = 0; j < selfB.Length; j++)
                result[i, j] = cross[i, j] / Math.Sqrt(selfA[i] * selfB[j]);
        return result;
    }

    void RequirePositive(double[] self, string name, string operation)
    {
        for (int i = 0; i < self.Length; i++)
            if (!(self[i] > 0))
                throw new ArgumentException(
                    $"{operation}: {name}[{i}] has {(options.Debiased ? "a non-positive mean unbiased self-HSIC" : "zero variance")} " +
                    $"over all {Batches} batches ({self[i]}), so its CKA is undefined", name);
    }
}
