using Hybrid.Core.Gpu.Reference;

namespace Hybrid.Core.Gpu;

/// <summary>Linear layers, masked or plain (PyTorch's <c>F.linear</c> with SeaM's weight masks): y = x w_eff^T + b_eff.</summary>
public static class Linear
{
    /// <summary>y (Batch x OutFeatures) from x (Batch x InFeatures).</summary>
    public static void Forward(LinearShape s, LayerParameters p, DeviceArray<float> x, DeviceArray<float> y)
    {
        CheckShape(s);
        MaskedLayer.Forward(Sizes(s), s, p, x, y, (device, weight, bias) => device.Kernels.LinearForward(s, x, weight, bias, y));
    }

    /// <summary>Gradients of the loss with respect to the input, effective weight, weight, mask scores and bias, given
    /// dL/dy (<paramref name="gradOut"/>, Batch x OutFeatures). Only the non-null arrays of <paramref name="g"/> are computed.</summary>
    public static void Backward(LinearShape s, LayerParameters p, DeviceArray<float> x, DeviceArray<float> gradOut, LayerGradients g)
    {
        CheckShape(s);
        MaskedLayer.Backward(Sizes(s), s, p, x, gradOut, g, (device, weight, gradWeight, gradBias) =>
            device.Kernels.LinearBackward(s, x, weight, gradOut, g.Input, gradWeight, gradBias));
    }

    /// <summary>The layer on host arrays of float32 or float64 in the plain loops of the specification (Core.Nn's float64
    /// path): y = x W^T + b, overwriting y.</summary>
    public static void Forward<T>(LinearShape s, T[] x, T[] weight, T[]? bias, T[] y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckShape(s);
        MaskedLayer.HostForward(Sizes(s), s, x, weight, bias, y);
        ReferenceLoops.LinearForward(s, x, weight, bias, y);
    }

    /// <summary>The gradients of <see cref="Forward{T}"/> given dL/dy, overwriting each non-null output.</summary>
    public static void Backward<T>(LinearShape s, T[] x, T[] weight, T[] gradOut, T[]? gradInput, T[]? gradWeight, T[]? gradBias)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckShape(s);
        MaskedLayer.HostBackward(Sizes(s), s, x, weight, gradOut, gradInput, gradWeight, gradBias);
        ReferenceLoops.LinearBackward(s, x, weight, gradOut, gradInput, gradWeight, gradBias);
    }

    static LayerSizes Sizes(in LinearShape s) => new(s.InputLength, s.WeightLength, s.OutFeatures, s.OutputLength);

    static void CheckShape(in LinearShape s)
    {
        Validate.NonNegative(s, ("batch", s.Batch), ("in features", s.InFeatures), ("out features", s.OutFeatures));
    }
}
