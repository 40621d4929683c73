namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>F.batch_norm over dimension 1 of (N, C, ...). In training, batch statistics normalise (biased variance) and
    /// the running statistics, when given, are updated in place with the unbiased variance:
    /// running = (1 - momentum) * running + momentum * batch. In evaluation the running statistics normalise.</summary>
    /// <remarks>Input rank 2 to 5; every per-channel tensor has shape (C) and the input's dtype. num_batches_tracked is the
    /// module's business. Gradients flow to input, weight and bias, never to the running statistics.</remarks>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, double momentum = 0.1, double eps = 1e-5) =>
        BatchNormOp(input, runningMean, runningVar, weight, bias, training, momentum, eps, relu: false);

    /// <summary>Relu(BatchNorm(...)) in one pass over memory and one autograd node, for blocks whose normalised values
    /// nothing else reads. A trace sees the two ops it exports (BatchNormalization, Relu).</summary>
    internal static Tensor BatchNormRelu(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, double momentum, double eps) => Trace.IsActive
        ? Relu(BatchNormOp(input, runningMean, runningVar, weight, bias, training, momentum, eps, relu: false))
        : BatchNormOp(input, runningMean, runningVar, weight, bias, training, momentum, eps, relu: true);

    static Tensor BatchNormOp(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, double momentum, double eps, bool relu)
    {
        const string op = "BatchNorm";
        ArgumentNullException.ThrowIfNull(input);
        OpChecks.Floating(op, "input", input);
        if (input.Dim < 2 || input.Dim > 5)
            throw new ArgumentException($"{op}: input must have rank 2 to 5 (N, C, ...), not shape {ShapeOps.Format(input.ShapeRef)}");
        int[] perChannel = [input.Size(1)];
        OpChecks.Optional(op, "running_mean", runningMean, input, perChannel);
        OpChecks.Optional(op, "running_var", runningVar, input, perChannel);
        OpChecks.Optional(op, "weight", weight, input, perChannel);
        OpChecks.Optional(op, "bias", bias, input, perChannel);
        if (!training && (runningMean is null || runningVar is null))
            throw new ArgumentException($"{op}: evaluation mode normalises with running_mean and running_var, which must both be given");
        if (training && input.Numel / Math.Max(1, perChannel[0]) <= 1)
            throw new ArgumentException($"{op}: training needs more than 1 value per channel, input {ShapeOps.Format(input.ShapeRef)}");
        if (!(eps >= 0)) throw new ArgumentException($"{op}: eps must be non-negative, not {eps}");

        var inputs = new List<Tensor> { input };
        if (weight is not null) inputs.Add(weight);
        if (bias is not null) inputs.Add(bias);
        var (output, backward) = input.IsSingle()
            ? BatchNormRun<float>(input, runningMean, runningVar, weight, bias, training, momentum, eps, relu)
            : BatchNormRun<double>(input, runningMean, runningVar, weight, bias, training, momentum, eps, relu);

        Trace.Record(op, output, new[] { input, runningMean, runningVar, weight, bias }.OfType<Tensor>().ToArray(),
            ("eps", eps), ("momentum", momentum), ("training", training));
        return Autograd.Record(output, relu ? "BatchNormRelu" : op, backward, inputs.ToArray());
    }

    static (Tensor Output, Func<Tensor, Tensor?[]> Backward) BatchNormRun<T>(Tensor input, Tensor? runningMean, Tensor? runningVar,
        Tensor? weight, Tensor? bias, bool training, double momentum, double eps, bool relu) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (y, saved) = training
            ? BatchNormKernel<T>.Train(input.Data<T>(), input.ShapeRef, weight?.Data<T>(), bias?.Data<T>(),
                runningMean?.Data<T>(), runningVar?.Data<T>(), momentum, eps, relu)
            : BatchNormKernel<T>.Eval(input.Data<T>(), input.ShapeRef, weight?.Data<T>(), bias?.Data<T>(),
                runningMean!.Data<T>(), runningVar!.Data<T>(), eps, relu);
        var output = TensorAccess.Own(y, input.ShapeRef, input.Device);
        // The backward reads the input (through saved) and, for the fused ReLU only, the output: a plain batch norm's
        // output is not kept alive by the graph.
        var reluOutput = relu ? output : null;
        if (FrozenBatchNorm(training, weight, bias))
            return (output, FrozenBackward(saved.Frozen(), reluOutput, input.RequiresGrad, input.ShapeRef, input.Device,
                1 + (weight is null ? 0 : 1) + (bias is null ? 0 : 1)));
        return (output, g =>
        {
            // The fused ReLU passes the gradient where its output is positive, as Relu's own backward does.
            var masked = reluOutput is null ? g : Elementwise.Map<ReluGradOp>(reluOutput, g);
            var (gx, gw, gb) = saved.Backward(masked.Data<T>(), training, input.RequiresGrad);
            // The masked gradient lives only in this function.
            if (relu && !Trace.IsActive) StoragePool.Return(masked);
            var grads = new List<Tensor?> { gx is null ? null : TensorAccess.Own(gx, input.ShapeRef, input.Device) };
            if (weight is not null) grads.Add(TensorAccess.Own(gw, weight.ShapeRef, weight.Device));
            if (bias is not null) grads.Add(TensorAccess.Own(gb, bias.ShapeRef, bias.Device));
            return grads.ToArray();
        }
        );
    }

    /// <summary>Whether a batch norm's backward needs per-channel scales only, not its input: running statistics and no
    /// gradient for weight or bias (SeaM's mask training). <see cref="Modules.BatchNorm.ReadsInputInBackward"/> asks the same
    /// before the forward, so the module frees the input exactly when this backward does not read it.</summary>
    internal static bool FrozenBatchNorm(bool useBatchStatistics, Tensor? weight, Tensor? bias) =>
        !useBatchStatistics && weight?.RequiresGrad != true && bias?.RequiresGrad != true;

    /// <summary>The backward of a frozen evaluation-mode batch norm (see <see cref="BatchNormKernel{T}.Frozen"/>): the input's
    /// gradient only, nulls for the weight and bias (<paramref name="inputs"/> in all). It holds no reference to the input,
    /// so the graph does not keep it alive (<see cref="Modules.BatchNorm.ReadsInputInBackward"/>).</summary>
    static Func<Tensor, Tensor?[]> FrozenBackward<T>(BatchNormKernel<T>.FrozenGradient gradient, Tensor? reluOutput, bool needInput,
        int[] shape, Gpu.Device device, int inputs) where T : unmanaged, IFloatingPointIeee754<T> => g =>
    {
        var grads = new Tensor?[inputs];
        if (needInput) grads[0] = TensorAccess.Own(gradient.Input(g.Data<T>(), reluOutput?.Data<T>()), shape, device);
        return grads;
    };

    /// <summary>F.layer_norm over the trailing dimensions given by <paramref name="normalizedShape"/>.</summary>
    /// <remarks>Weight and bias, when given, have shape <paramref name="normalizedShape"/>; the variance is biased.</remarks>
    public static Tensor LayerNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        const string op = "LayerNorm";
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(normalizedShape);
        OpChecks.Floating(op, "input", input);
        int rank = normalizedShape.Length;
        if (rank == 0 || rank > input.Dim || !input.ShapeRef.AsSpan(input.Dim - rank).SequenceEqual(normalizedShape))
            throw new ArgumentException(
                $"{op}: normalized_shape {ShapeOps.Format(normalizedShape)} must be non-empty and equal the trailing dimensions of input {ShapeOps.Format(input.ShapeRef)}");
        OpChecks.Optional(op, "weight", weight, input, normalizedShape);
        OpChecks.Optional(op, "bias", bias, input, normalizedShape);
        if (!(eps >= 0)) throw new ArgumentException($"{op}: eps must be non-negative, not {eps}");

        var inputs = new List<Tensor> { input };
        if (weight is not null) inputs.Add(weight);
        if (bias is not null) inputs.Add(bias);
        int width = ShapeOps.Numel(normalizedShape);
        var (output, backward) = input.IsSingle()
            ? LayerNormRun<float>(input, width, weight, bias, eps)
            : LayerNormRun<double>(input, width, weight, bias, eps);
        Trace.Record(op, output, inputs.ToArray(), ("normalized_shape", (int[])normalizedShape.Clone()), ("eps", eps),
            ("has_weight", weight is not null), ("has_bias", bias is not null));
        return Autograd.Record(output, op, backward, inputs.ToArray());
    }

    static (Tensor Output, Func<Tensor, Tensor?[]> Backward) LayerNormRun<T>(Tensor input, int width, Tensor? weight, Tensor? bias,
        double eps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (y, saved) = LayerNormKernel<T>.Forward(input.Data<T>(), width, weight?.Data<T>(), bias?.Data<T>(), eps);
        var output = TensorAccess.Own(y, input.ShapeRef, input.Device);
        return (output, g =>
        {
            var (gx, gw, gb) = saved.Backward(g.Data<T>(), input.RequiresGrad, weight?.RequiresGrad == true, bias?.RequiresGrad == true);
            var grads = new List<Tensor?> { gx is null ? null : TensorAccess.Own(gx, input.ShapeRef, input.Device) };
            if (weight is not null) grads.Add(gw is null ? null : TensorAccess.Own(gw, weight.ShapeRef, weight.Device));
            if (bias is not null) grads.Add(gb is null ? null : TensorAccess.Own(gb, bias.ShapeRef, bias.Device));
            return grads.ToArray();
        }
        );
    }
}
