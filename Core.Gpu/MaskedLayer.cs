namespace Hybrid.Core.Gpu;

/// <summary>The entry points of a masked layer whose geometry is <typeparamref name="TShape"/> (PyTorch's functional form
/// with SeaM's weight masks): <see cref="Linear"/> and <see cref="Conv2d"/> are this class for their shapes and are called
/// as <c>Linear.Forward(...)</c>. Each entry point checks the shape and every array once, then hands the effective weight
/// and bias (a weight whose mask score is &lt;= 0 is masked out) to the kernels of the arrays' device.</summary>
public abstract class MaskedLayer<TShape> where TShape : struct, ILayerShape
{
    private protected MaskedLayer() { }

    /// <summary>y from x, both of the lengths <typeparamref name="TShape"/> gives (NCHW for a convolution, Batch x features
    /// for a linear layer).</summary>
    public static void Forward(TShape s, LayerParameters p, DeviceArray<float> x, DeviceArray<float> y)
    {
        var shape = Checked(s);
        var device = CheckInputs(s, shape, p, x);
        Validate.Array(y, "output", s.OutputLength, device, shape);
        if (s.OutputLength == 0) return;
        EffectiveParameters.Forward(p, (weight, bias) => KernelsOf(device).Forward(s, x, weight, bias, y));
    }

    /// <summary>Gradients of the loss with respect to the input, effective weight, weight, mask scores and bias, given
    /// dL/dy (<paramref name="gradOut"/>, the output's length). Only the non-null arrays of <paramref name="g"/> are
    /// computed.</summary>
    public static void Backward(TShape s, LayerParameters p, DeviceArray<float> x, DeviceArray<float> gradOut, LayerGradients g)
    {
        var shape = Checked(s);
        var device = CheckInputs(s, shape, p, x);
        Validate.Array(gradOut, "output gradient", s.OutputLength, device, shape);
        ValidateGradients(s, shape, p, g, device);
        EffectiveParameters.Backward(p, g, (weight, gradWeight, gradBias) =>
            KernelsOf(device).Backward(s, x, weight, gradOut, g.Input, gradWeight, gradBias));
    }

    /// <summary>The layer on host arrays of float32 or float64 in the plain loops of the specification (Core.Nn's float64
    /// path), overwriting y.</summary>
    public static void Forward<T>(TShape s, T[] x, T[] weight, T[]? bias, T[] y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shape = Checked(s);
        HostInputs(s, shape, x, weight, bias);
        Validate.Host(y, "output", s.OutputLength, shape);
        s.ReferenceForward(x, weight, bias, y);
    }

    /// <summary>The gradients of <see cref="Forward{T}"/> given dL/dy, overwriting each non-null output.</summary>
    public static void Backward<T>(TShape s, T[] x, T[] weight, T[] gradOut, T[]? gradInput, T[]? gradWeight, T[]? gradBias)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shape = Checked(s);
        HostInputs(s, shape, x, weight, null);
        Validate.Host(gradOut, "output gradient", s.OutputLength, shape);
        Validate.Host(gradInput, "input gradient", s.InputLength, shape, required: false);
        Validate.Host(gradWeight, "weight gradient", s.WeightLength, shape, required: false);
        Validate.Host(gradBias, "bias gradient", s.BiasLength, shape, required: false);
        s.ReferenceBackward(x, weight, gradOut, gradInput, gradWeight, gradBias);
    }

    /// <summary>Checks the geometry and returns the shape boxed once, for the messages.</summary>
    static object Checked(TShape s)
    {
        s.Check();
        return s;
    }

    // IKernels is ILayerKernels<S> for every layer shape S, so the cast always succeeds.
    static ILayerKernels<TShape> KernelsOf(Device device) => (ILayerKernels<TShape>)device.Kernels;

    static Device CheckInputs(TShape s, object shape, LayerParameters p, DeviceArray<float> x)
    {
        var device = x.Device;
        Validate.Array(x, "input", s.InputLength, device, shape);
        ValidateParameters(s, shape, p, device);
        return device;
    }

    static void HostInputs<T>(TShape s, object shape, T[] x, T[] weight, T[]? bias)
    {
        Validate.Host(x, "input", s.InputLength, shape);
        Validate.Host(weight, "weight", s.WeightLength, shape);
        Validate.Host(bias, "bias", s.BiasLength, shape, required: false);
    }

    static void ValidateParameters(TShape s, object shape, LayerParameters p, Device device)
    {
        Validate.Array(p.Weight, "weight", s.WeightLength, device, shape);
        Validate.Optional(p.WeightScores, "weight mask scores", s.WeightLength, device, shape);
        Validate.Optional(p.Bias, "bias", s.BiasLength, device, shape);
        if (p.BiasScores is not null && p.Bias is null)
            throw new ArgumentException($"{shape}: bias mask scores given without a bias");
        Validate.Optional(p.BiasScores, "bias mask scores", s.BiasLength, device, shape);
    }

    static void ValidateGradients(TShape s, object shape, LayerParameters p, LayerGradients g, Device device)
    {
        Validate.Optional(g.Input, "input gradient", s.InputLength, device, shape);
        Validate.Optional(g.EffectiveWeight, "effective weight gradient", s.WeightLength, device, shape);
        Validate.Optional(g.Weight, "weight gradient", s.WeightLength, device, shape);
        Validate.Optional(g.WeightScores, "weight mask score gradient", s.WeightLength, device, shape);
        if (g.WeightScores is not null && p.WeightScores is null)
            throw new ArgumentException($"{shape}: a weight mask score gradient was asked for but the layer has no weight mask");
        if ((g.Bias is not null || g.BiasScores is not null) && p.Bias is null)
            throw new ArgumentException($"{shape}: a bias gradient was asked for but the layer has no bias");
        Validate.Optional(g.Bias, "bias gradient", s.BiasLength, device, shape);
        Validate.Optional(g.BiasScores, "bias mask score gradient", s.BiasLength, device, shape);
        if (g.BiasScores is not null && p.BiasScores is null)
            throw new ArgumentException($"{shape}: a bias mask score gradient was asked for but the layer has no bias mask");
    }
}
