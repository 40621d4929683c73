namespace Hybrid.Core.Nn.Modules;

/// <summary>PyTorch's <c>_BatchNorm</c>: state <c>weight</c>, <c>bias</c> (when affine), <c>running_mean</c>,
/// <c>running_var</c> and the int64 scalar <c>num_batches_tracked</c> (when tracking running statistics).</summary>
/// <remarks>Training forwards normalise with batch statistics, update the running ones and count the batch;
/// evaluation forwards normalise with the running statistics. A null <see cref="Momentum"/> gives the cumulative
/// average 1 / num_batches_tracked, as in PyTorch.</remarks>
public abstract class BatchNorm : Module
{
    protected BatchNorm(int numFeatures, double eps, double? momentum, bool affine, bool trackRunningStats)
    {
        Shapes.Positive(numFeatures, "num_features", nameof(numFeatures));
        if (!(eps > 0)) throw new ArgumentException($"eps must be positive, not {eps}", nameof(eps));
        if (momentum is { } m) Shapes.Probability(m, nameof(momentum));
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        Affine = affine;
        TrackRunningStats = trackRunningStats;
        RegisterParameter("weight", affine ? Tensor.Ones(ScalarType.Float32, null, numFeatures) : null);
        RegisterParameter("bias", affine ? Tensor.Zeros(numFeatures) : null);
        RegisterBuffer("running_mean", trackRunningStats ? Tensor.Zeros(numFeatures) : null);
        RegisterBuffer("running_var", trackRunningStats ? Tensor.Ones(ScalarType.Float32, null, numFeatures) : null);
        RegisterBuffer("num_batches_tracked", trackRunningStats ? Tensor.Scalar(0, ScalarType.Int64) : null);
    }

    public int NumFeatures { get; }
    public double Eps { get; }
    public double? Momentum { get; }
    public bool Affine { get; }
    public bool TrackRunningStats { get; }

    /// <summary>The scale (gamma), or null when not affine.</summary>
    public Tensor? Weight => Parameter("weight");

    /// <summary>The shift (beta), or null when not affine.</summary>
    public Tensor? Bias => Parameter("bias");

    public Tensor? RunningMean => Buffer("running_mean");
    public Tensor? RunningVar => Buffer("running_var");

    /// <summary>How many training batches updated the running statistics (int64 scalar).</summary>
    public Tensor? NumBatchesTracked => Buffer("num_batches_tracked");

    /// <summary>Running mean 0, running variance 1, batch count 0.</summary>
    public void ResetRunningStats()
    {
        RunningMean?.Fill(0);
        RunningVar?.Fill(1);
        NumBatchesTracked?.Fill(0);
    }

    /// <summary>Resets the running statistics, then weight 1 and bias 0 (PyTorch's <c>reset_parameters</c>).</summary>
    public void ResetParameters()
    {
        ResetRunningStats();
        Weight?.Fill(1);
        Bias?.Fill(0);
    }

    /// <summary>Throws when the input has a rank this layer does not normalise (PyTorch's <c>_check_input_dim</c>).</summary>
    protected abstract void CheckInput(Tensor input);

    public override Tensor Forward(Tensor input) => Normalise(input, relu: false);

    /// <summary>Relu(Call(input)), fused into the normalisation when nothing can see the values in between: no forward
    /// hook on this module and no open trace (which must record both ops).</summary>
    internal Tensor CallRelu(Tensor input) =>
        HasForwardHooks || Trace.IsActive ? Functional.Relu(Call(input)) : Normalise(input, relu: true);

    /// <summary>The sparse layer this norm is folded into (see <see cref="MaskableLayer.UseSparse"/>), or null.</summary>
    MaskableLayer? foldedInto;

    /// <summary>Folds this norm's evaluation-mode affine map into <paramref name="layer"/>'s effective weight (scaled in
    /// place, <paramref name="rows"/> rows) and returns the folded bias; from then on, while the layer runs its sparse
    /// copy, this norm passes its input through. Computed in float64, as y = (x - mean) * gamma / sqrt(var + eps) + beta
    /// is exactly affine per channel.</summary>
    internal float[] FoldInto(MaskableLayer layer, float[] weight, float[]? bias, int rows)
    {
        if (RunningMean is not { } mean || RunningVar is not { } variance)
            throw new InvalidOperationException($"{TypeName}: only a norm with running statistics folds into a layer");
        if (NumFeatures != rows)
            throw new InvalidOperationException($"{TypeName}({NumFeatures}) cannot fold into a layer of {rows} outputs");
        ReadOnlySpan<float> mu = mean.Span<float>(), v = variance.Span<float>();
        ReadOnlySpan<float> gamma = Weight is { } w ? w.Span<float>() : default, beta = Bias is { } b ? b.Span<float>() : default;
        int perRow = rows == 0 ? 0 : weight.Length / rows;
        var folded = new float[rows];
        for (int o = 0; o < rows; o++)
        {
            double scale = (gamma.IsEmpty ? 1.0 : gamma[o]) / Math.Sqrt(v[o] + Eps);
            foreach (ref var x in weight.AsSpan(o * perRow, perRow)) x = (float)(x * scale);
            folded[o] = (float)(((bias?[o] ?? 0f) - mu[o]) * scale + (beta.IsEmpty ? 0.0 : beta[o]));
        }
        foldedInto = layer;
        return folded;
    }

    /// <summary>Ends the fold into <paramref name="layer"/> (the layer dropped or rebuilt its sparse copy).</summary>
    internal void Unfold(MaskableLayer layer)
    {
        if (ReferenceEquals(foldedInto, layer)) foldedInto = null;
    }

    /// <summary>True when the layer this norm is folded into has applied it already in this call.</summary>
    bool Folded => foldedInto is { RunsSparse: true } && !Training;

    Tensor Normalise(Tensor input, bool relu)
    {
        CheckInput(input);
        // Folded: the input is the sparse layer's fresh output, read by nothing else, so it is already the normalised
        // value and the ReLU may overwrite it.
        if (Folded) return relu ? Functional.ReluInPlace(input) : input;
        double factor = Momentum ?? 0.0;
        if (Training && TrackRunningStats && NumBatchesTracked is { } count)
        {
            long batches = ++count.Span<long>()[0];
            if (Momentum is null) factor = 1.0 / batches;
        }
        bool passRunning = !Training || TrackRunningStats;
        var (mean, variance) = passRunning ? (RunningMean, RunningVar) : (null, null);
        return relu
            ? Functional.BatchNormRelu(input, mean, variance, Weight, Bias, UseBatchStatistics, factor, Eps)
            : Functional.BatchNorm(input, mean, variance, Weight, Bias, UseBatchStatistics, factor, Eps);
    }

    /// <summary>Whether the backward of this norm's next forward reads its input: not in evaluation mode with running
    /// statistics and a frozen weight and bias (SeaM's mask training), where the input is dead once normalised.</summary>
    internal bool ReadsInputInBackward => !Functional.FrozenBatchNorm(UseBatchStatistics, Weight, Bias);

    /// <summary>Batch statistics while training, or in evaluation when there are no running statistics (as PyTorch).</summary>
    bool UseBatchStatistics => Training || (RunningMean is null && RunningVar is null);

    /// <summary>Checkpoints written before PyTorch 0.4.1 have no <c>num_batches_tracked</c>.</summary>
    protected override bool MayBeMissing(string localName) => localName == "num_batches_tracked";

    /// <summary>PyTorch's repr: <c>BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)</c>.</summary>
    public override string ToString() =>
        $"{TypeName}({NumFeatures}, eps={Shapes.Float(Eps)}, momentum={(Momentum is { } m ? Shapes.Float(m) : "None")}, " +
        $"affine={(Affine ? "True" : "False")}, track_running_stats={(TrackRunningStats ? "True" : "False")})";
}

/// <summary>PyTorch's <c>nn.BatchNorm1d</c> over (N, C) or (N, C, L).</summary>
public sealed class BatchNorm1d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true)
    : BatchNorm(numFeatures, eps, momentum, affine, trackRunningStats)
{
    protected override void CheckInput(Tensor input) => Shapes.Rank(input, TypeName, 2, 3);
}

/// <summary>PyTorch's <c>nn.BatchNorm2d</c> over (N, C, H, W).</summary>
public sealed class BatchNorm2d(int numFeatures, double eps = 1e-5, double? momentum = 0.1, bool affine = true, bool trackRunningStats = true)
    : BatchNorm(numFeatures, eps, momentum, affine, trackRunningStats)
{
    protected override void CheckInput(Tensor input) => Shapes.Rank(input, TypeName, 4);
}
