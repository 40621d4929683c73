using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>What (masked) Conv2d and Linear share: checking weights, masks and biases against each other, recording one
/// autograd node over the non-null tensors, and running float32 through a Core.Gpu entry point (masks as
/// WeightScores / BiasScores) and float64 through Core.Gpu's host loops (a <see cref="PlainLayer"/>), with the mask rule
/// of Core.Gpu.</summary>
internal sealed class LayerOp
{
    readonly string op;
    readonly Tensor input, weight;
    readonly Tensor? weightMask, bias, biasMask;
    readonly MaskGradient rule;

    public LayerOp(string op, Tensor input, Tensor weight, Tensor? weightMask, Tensor? bias, Tensor? biasMask, MaskGradient rule)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        (this.op, this.input, this.weight, this.weightMask, this.bias, this.biasMask, this.rule) =
            (op, input, weight, weightMask, bias, biasMask, rule);
        Inputs = new[] { input, weight, weightMask, bias, biasMask }.OfType<Tensor>().ToArray();
        foreach (var t in Inputs)
            if (!t.IsFloatingPoint || t.Dtype != input.Dtype)
                throw new ArgumentException($"{op}: input {Describe(input)} and {Name(t)} {Describe(t)} must share one floating-point dtype");
        if (weightMask is not null && !ShapeOps.Equal(weightMask.ShapeRef, weight.ShapeRef))
            throw new ArgumentException($"{op}: weight mask {Describe(weightMask)} must have the weight's shape {Describe(weight)}");
        if (biasMask is not null && bias is null)
            throw new ArgumentException($"{op}: a bias mask {Describe(biasMask)} was given without a bias");
        if (biasMask is not null && !ShapeOps.Equal(biasMask.ShapeRef, bias!.ShapeRef))
            throw new ArgumentException($"{op}: bias mask {Describe(biasMask)} must have the bias's shape {Describe(bias)}");
    }

    /// <summary>input, weight, weight mask, bias, bias mask: the non-null ones in this order (autograd and trace inputs).</summary>
    public Tensor[] Inputs { get; }

    /// <summary>Checks that the bias is a vector of <paramref name="outputs"/> elements.</summary>
    public void CheckBias(int outputs)
    {
        if (bias is not null && (bias.Dim != 1 || bias.ShapeRef[0] != outputs))
            throw new ArgumentException($"{op}: bias {Describe(bias)} must be a vector of {outputs} elements for weight {Describe(weight)}");
    }

    /// <summary>Computes the layer, records autograd and the trace. The float32 delegates call Core.Gpu's Forward / Backward.</summary>
    public Tensor Run(int[] outputShape, PlainLayer plain,
        Action<LayerParameters, DeviceArray<float>, DeviceArray<float>> forward32,
        Action<LayerParameters, DeviceArray<float>, DeviceArray<float>, LayerGradients> backward32,
        params (string Name, object Value)[] attributes)
    {
        var device = input.Device;
        var output = input.Dtype == ScalarType.Float32 ? Overwritten(outputShape, device) : Tensor.Zeros(input.Dtype, device, outputShape);
        double[]? weightEff = null, biasEff = null;
        if (input.Dtype == ScalarType.Float32)
        {
            using var staging = new Float32Staging(device);
            forward32(Parameters(staging), staging.In(input.F32), staging.Out(output.F32));
            staging.Download();
        }
        else
        {
            weightEff = MaskMath.Effective(weight.F64, weightMask?.F64);
            biasEff = bias is null ? null : MaskMath.Effective(bias.F64, biasMask?.F64);
            plain.Forward(input.F64, weightEff, biasEff, output.F64);
        }
        Trace.Record(op, output, Inputs, attributes);
        return Autograd.Record(output, op,
            g => input.Dtype == ScalarType.Float32 ? Backward32(g, backward32) : Backward64(g, plain, weightEff!, biasEff),
            Inputs);
    }

    LayerParameters Parameters(Float32Staging staging) => new(staging.In(weight.F32), staging.InOptional(weightMask?.F32),
        staging.InOptional(bias?.F32), staging.InOptional(biasMask?.F32));

    static Tensor? GradFor(Tensor? t) => t is { RequiresGrad: true } ? t.ZerosLike() : null;

    Tensor? Grad32For(Tensor? t) => t is { RequiresGrad: true } ? Overwritten(t.ShapeRef, input.Device) : null;

    /// <summary>A float32 tensor for a Core.Gpu output, which overwrites every element: skipping the zeroing saves a pass
    /// over memory. An empty batch may leave weight gradients unwritten, so it gets zeros.</summary>
    Tensor Overwritten(int[] shape, Device device) => input.Numel == 0
        ? Tensor.Zeros(ScalarType.Float32, device, shape)
        : Tensor.Wrap(TensorAccess.Fresh<float>(ShapeOps.Numel(shape)), shape, device);

    Tensor?[] Backward32(Tensor gradOut, Action<LayerParameters, DeviceArray<float>, DeviceArray<float>, LayerGradients> backward32)
    {
        var (gx, gw, gwm, gb, gbm) = (Grad32For(input), Grad32For(weight), Grad32For(weightMask), Grad32For(bias), Grad32For(biasMask));
        using var staging = new Float32Staging(input.Device);
        var grads = new LayerGradients(Input: staging.OutOptional(gx?.F32), Weight: staging.OutOptional(gw?.F32),
            WeightScores: staging.OutOptional(gwm?.F32), Bias: staging.OutOptional(gb?.F32),
            BiasScores: staging.OutOptional(gbm?.F32), MaskRule: rule);
        backward32(Parameters(staging), staging.In(input.F32), staging.In(gradOut.F32), grads);
        staging.Download();
        return InOrder(gx, gw, gwm, gb, gbm);
    }

    Tensor?[] Backward64(Tensor gradOut, PlainLayer plain, double[] weightEff, double[]? biasEff)
    {
        var (gx, gw, gwm, gb, gbm) = (GradFor(input), GradFor(weight), GradFor(weightMask), GradFor(bias), GradFor(biasMask));
        var gradWeightEff = gw is null && gwm is null ? null : new double[weightEff.Length];
        var gradBiasEff = gb is null && gbm is null ? null : new double[biasEff!.Length];
        plain.Backward(input.F64, weightEff, gradOut.F64, gx?.F64, gradWeightEff, gradBiasEff);
        if (gradWeightEff is not null) MaskMath.Derive(gradWeightEff, weight.F64, weightMask?.F64, gw?.F64, gwm?.F64, rule);
        if (gradBiasEff is not null) MaskMath.Derive(gradBiasEff, bias!.F64, biasMask?.F64, gb?.F64, gbm?.F64, rule);
        return InOrder(gx, gw, gwm, gb, gbm);
    }

    Tensor?[] InOrder(Tensor? gx, Tensor? gw, Tensor? gwm, Tensor? gb, Tensor? gbm)
    {
        var all = new[] { (input, gx), (weight, gw), (weightMask, gwm), (bias, gb), (biasMask, gbm) };
        return all.Where(p => p.Item1 is not null).Select(p => p.Item2).ToArray();
    }

    string Name(Tensor t) =>
        ReferenceEquals(t, weight) ? "weight" : ReferenceEquals(t, weightMask) ? "weight mask"
        : ReferenceEquals(t, bias) ? "bias" : ReferenceEquals(t, biasMask) ? "bias mask" : "input";

    /// <summary>"[2, 3] Float32": a tensor as error messages name it.</summary>
    public static string Describe(Tensor t) => $"{ShapeOps.Format(t.ShapeRef)} {t.Dtype}";
}

/// <summary>The float64 path of a linear or convolution layer (gradient checks): forward with the effective weight and
/// bias, and the gradients with respect to input, effective weight and effective bias; Core.Gpu's host entry points
/// (Linear / Conv2d .Forward&lt;T&gt; and .Backward&lt;T&gt;), which overwrite their outputs.</summary>
internal sealed record PlainLayer(
    Action<double[], double[], double[]?, double[]> Forward,
    Action<double[], double[], double[], double[]?, double[]?, double[]?> Backward);

/// <summary>SeaM's weight masks in generic arithmetic, matching Core.Gpu's float32 kernels: the effective value is
/// value * 1[score > 0]; dL/dvalue = dL/d(effective) * 1[score > 0]; dL/dscore = rule(dL/d(effective) * value).</summary>
internal static class MaskMath
{
    /// <summary>value * 1[scores > 0], or <paramref name="value"/> itself when unmasked.</summary>
    public static T[] Effective<T>(T[] value, T[]? scores) where T : unmanaged, INumber<T>
    {
        if (scores is null) return value;
        var result = new T[value.Length];
        for (int i = 0; i < value.Length; i++) result[i] = scores[i] > T.Zero ? value[i] : T.Zero;
        return result;
    }

    /// <summary>The gradients of a value and of its scores from the gradient of the effective value (either output may be null).</summary>
    public static void Derive<T>(T[] gradEffective, T[] value, T[]? scores, T[]? gradValue, T[]? gradScores, MaskGradient rule)
        where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < gradEffective.Length; i++)
        {
            if (gradValue is not null) gradValue[i] = scores is null || scores[i] > T.Zero ? gradEffective[i] : T.Zero;
            if (gradScores is not null)
            {
                var v = gradEffective[i] * value[i];
                gradScores[i] = rule == MaskGradient.ClippedStraightThrough ? T.Clamp(v, -T.One, T.One) : v;
            }
        }
    }
}
