using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn.Modules;

/// <summary>What <see cref="Linear"/> and <see cref="Conv2d"/> share: a weight and an optional bias that SeaM's
/// re-engineering can mask in place, and a compressed copy for sparse inference. Masking in place (rather than swapping
/// the layer for a masked twin) keeps every model's module tree, fields and state keys as they are, so any zoo model
/// can be re-engineered: <see cref="EnableMask"/> adds the scores <c>weight_mask</c> and <c>bias_mask</c>, after which
/// the effective weight is weight * 1[weight_mask > 0] (bias likewise).</summary>
public abstract class MaskableLayer : Module
{
    CsrWeights? sparse;
    Tensor? sparseBias;
    BatchNorm? foldedNorm;

    /// <summary>The current weight tensor (looked up each time: <see cref="Module.To(Gpu.Device)"/> and
    /// <see cref="Module.To(ScalarType)"/> replace parameter objects).</summary>
    public Tensor Weight => Parameter("weight")!;

    /// <summary>The bias, or null for a layer built without one.</summary>
    public Tensor? Bias => Parameter("bias");

    /// <summary>The mask scores of the weight (same shape), or null while the layer is not masked.</summary>
    public Tensor? WeightMask => Parameter("weight_mask");

    /// <summary>The mask scores of the bias, or null without bias or mask.</summary>
    public Tensor? BiasMask => Parameter("bias_mask");

    /// <summary>True once <see cref="EnableMask"/> has run.</summary>
    public bool IsMasked => WeightMask is not null;

    /// <summary>How gradients reach the mask scores; SeaM's clipped straight-through estimator by default.</summary>
    public MaskGradient Rule { get; set; } = MaskGradient.ClippedStraightThrough;

    /// <summary>Adds mask scores for the weight and the bias, all 1.0 (every weight kept), as trainable parameters with
    /// state keys <c>weight_mask</c> and <c>bias_mask</c>. Throws when the layer is masked already.</summary>
    public void EnableMask()
    {
        if (IsMasked) throw new InvalidOperationException($"{TypeName}: the layer is masked already");
        RegisterParameter("weight_mask", MaskScores.Initial(Weight));
        RegisterParameter("bias_mask", MaskScores.Initial(Bias));
    }

    /// <summary>The number of weights and biases that the mask keeps (all of them when unmasked).</summary>
    public long KeptCount()
    {
        long kept = Kept(Weight, WeightMask);
        return Bias is { } b ? kept + Kept(b, BiasMask) : kept;

        static long Kept(Tensor value, Tensor? scores)
        {
            if (scores is null) return value.Numel;
            long n = 0;
            foreach (var s in scores.Span<float>())
                if (s > 0f) n++;
            return n;
        }
    }

    /// <summary>The effective weight, weight * 1[weight_mask > 0], as a new float32 array in the weight's layout.</summary>
    public float[] EffectiveWeight() => MaskScores.Effective(Weight, WeightMask);

    /// <summary>The effective bias, or null without bias.</summary>
    public float[]? EffectiveBias() => Bias is { } b ? MaskScores.Effective(b, BiasMask) : null;

    /// <summary>Largest share of kept weights at which <see cref="UseSparse"/> compresses by default, and above which the
    /// measured rule (<see cref="ChooseKernel"/>) does not even try the sparse kernel: measured on ResNet-20's layers at
    /// batch 16, the CSR kernels ran 1.4x-1.7x faster than dense at 25% kept and 0.6x-0.75x as fast at 50%. Below it the
    /// crossover depends on the shape and batch (12% to 30% kept before the 16-lane form), so it is measured per layer.</summary>
    public const double SparseCeiling = 0.5;

    /// <summary>Calls of each kernel <see cref="ChooseKernel"/> times, alternating, keeping each one's fastest: the
    /// fastest of several is what the kernel costs when nothing else competes for the cores. Five let the load of a shared
    /// 2-core machine (load average 15) pick dense for three 32-32 layers whose sparse kernel runs 2x-3x faster: on a
    /// crowded machine a call escapes the other processes only now and then.</summary>
    const int ChoiceRounds = 15;

    /// <summary>What the last <see cref="ChooseKernel"/> measured, or null.</summary>
    public KernelChoice? Choice { get; internal set; }

    /// <summary>True while inference runs on the compressed copy (see <see cref="UseSparse"/>).</summary>
    public bool IsSparse => sparse is not null;

    /// <summary>The compressed weights of sparse inference, or null.</summary>
    public CsrWeights? SparseWeights => sparse;

    /// <summary>The batch norm folded into the compressed copy (see <see cref="UseSparse"/>), or null.</summary>
    public BatchNorm? FoldedNorm => foldedNorm;

    /// <summary>With <paramref name="on"/>, compresses the effective weight into CSR form on the weight's device, and
    /// forwards under <see cref="Autograd.NoGrad"/> then run Core.Gpu's sparse kernel on it, unless the layer keeps more
    /// than <paramref name="maxDensity"/> of its weights, where the dense kernel is faster and stays in use
    /// (<see cref="IsSparse"/> says which). With <paramref name="foldNorm"/>, the evaluation-mode batch norm that reads
    /// this layer's output (and nothing else does: the caller proves it) is folded into the copy, rows scaled by
    /// gamma / sqrt(var + eps) and the bias shifted, so that norm passes its input through while the copy runs: one
    /// pass over the activations fewer, as inference runtimes fold it. The copy is a snapshot, so call again after
    /// changing weights, masks or the norm's statistics. Off drops the copy and any fold. Float32 only; training always
    /// runs dense.</summary>
    public void UseSparse(bool on = true, double maxDensity = SparseCeiling, BatchNorm? foldNorm = null)
    {
        Choice = null;
        sparse?.Dispose();
        sparse = null;
        sparseBias = null;
        foldedNorm?.Unfold(this);
        foldedNorm = null;
        if (!on) return;
        if (Weight.Dtype != ScalarType.Float32)
            throw new InvalidOperationException($"{TypeName}: sparse inference runs on float32 weights, not {Weight.Dtype}");
        int rows = Weight.ShapeRef[0];
        int cols = rows == 0 ? 0 : (int)(Weight.Numel / rows);
        var weight = EffectiveWeight();
        // Counted before any fold rescales the rows, so that one compression serves.
        if (KeptShare(weight) > maxDensity) return;
        var bias = EffectiveBias();
        if (foldNorm is not null)
        {
            bias = foldNorm.FoldInto(this, weight, bias, rows);
            foldedNorm = foldNorm;
        }
        sparse = CsrWeights.FromMasked(Weight.Device, rows, cols, weight, []);
        sparseBias = bias is not null ? Tensor.Wrap(bias, [bias.Length], Weight.Device) : null;
    }

    /// <summary>The measured rule: with a compressed copy (see <see cref="UseSparse"/>; no batch norm folded yet), times
    /// the dense and the sparse kernel on <paramref name="input"/> (the input this layer sees in its model, at the batch
    /// that will run), alternating, and keeps the sparse copy only where it was faster, so the layer is never slower
    /// than dense by more than the timing's noise. Without a copy (the layer keeps more than the ceiling) nothing is
    /// timed and the layer stays dense. Returns and records (<see cref="Choice"/>) what it measured.</summary>
    public KernelChoice ChooseKernel(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (foldedNorm is not null) throw new InvalidOperationException($"{TypeName}: choose the kernel before folding a norm");
        double density = KeptShare(EffectiveWeight());
        if (sparse is null)
        {
            Choice = new KernelChoice(density, false, double.NaN, double.NaN);
            return Choice;
        }
        double dense = double.PositiveInfinity, sparseTime = double.PositiveInfinity;
        using (Autograd.NoGrad())
        {
            // One untimed call each first: the first call of a shape pays for JIT compilation and buffer pools.
            StoragePool.Return(DenseOrMaskedForward(input));
            StoragePool.Return(SparseForward(input, sparse, sparseBias));
            for (int round = 0; round < ChoiceRounds; round++)
            {
                dense = Math.Min(dense, Seconds(() => DenseOrMaskedForward(input)));
                sparseTime = Math.Min(sparseTime, Seconds(() => SparseForward(input, sparse, sparseBias)));
            }
        }
        var choice = new KernelChoice(density, sparseTime < dense, dense, sparseTime);
        if (!choice.Sparse) UseSparse(false);
        Choice = choice;
        return choice;

        // Each output goes back to the pool once timed, so the calls do not feed the collector, whose pauses would land
        // in later calls' times.
        static double Seconds(Func<Tensor> run)
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            var output = run();
            double seconds = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
            StoragePool.Return(output);
            return seconds;
        }
    }

    /// <summary>The share of the weights the compressed copy keeps (CSR compression keeps w != 0); 0
    /// for an empty layer.</summary>
    static double KeptShare(float[] weight)
    {
        long kept = 0;
        foreach (var w in weight)
            if (w != 0f) kept++;
        return weight.Length == 0 ? 0 : (double)kept / weight.Length;
    }

    Tensor DenseOrMaskedForward(Tensor input) => WeightMask is { } mask ? MaskedForward(input, mask, BiasMask) : DenseForward(input);

    /// <summary>True when this call runs the compressed copy: it exists, nothing records gradients, and a folded norm is
    /// in evaluation mode (in training mode it needs this layer's unfolded output, so the layer runs dense).</summary>
    internal bool RunsSparse => sparse is not null && !Autograd.IsEnabled && foldedNorm is not { Training: true };

    /// <summary>The layer's output: sparse when <see cref="UseSparse"/> is on and nothing records gradients, masked when
    /// masked, plain otherwise.</summary>
    public sealed override Tensor Forward(Tensor input)
    {
        return RunsSparse ? SparseForward(input, sparse!, sparseBias) : DenseOrMaskedForward(input);
    }

    /// <summary>The unmasked layer.</summary>
    protected abstract Tensor DenseForward(Tensor input);

    /// <summary>The layer with the effective weight and bias, recording mask gradients by <see cref="Rule"/>.</summary>
    protected abstract Tensor MaskedForward(Tensor input, Tensor weightMask, Tensor? biasMask);

    /// <summary>The layer on its compressed weights and effective bias.</summary>
    protected abstract Tensor SparseForward(Tensor input, CsrWeights weights, Tensor? bias);
}

/// <summary>What <see cref="MaskableLayer.ChooseKernel"/> measured for one layer: its share of kept weights, whether it
/// runs sparse, and the fastest seconds of each kernel on the layer's input (NaN where nothing was timed: above
/// <see cref="MaskableLayer.SparseCeiling"/>).</summary>
public sealed record KernelChoice(double Density, bool Sparse, double DenseSeconds, double SparseSeconds);
