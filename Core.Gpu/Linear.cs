namespace Hybrid.Core.Gpu;

/// <summary>Linear layers, masked or plain (PyTorch's <c>F.linear</c> with SeaM's weight masks): y = x w_eff^T + b_eff.</summary>
public static class Linear
{
    /// <summary>y (Batch x OutFeatures) from x (Batch x InFeatures).</summary>
    public static void Forward(LinearShape s, LayerParameters p, DeviceArray<float> x, DeviceArray<float> y)
    {
        var device = Check(s, p, x);
        Validate.Array(y, "output", s.OutputLength, device, s);
        if (s.OutputLength == 0) return;
        MaskedLayer.Forward(p, (weight, bias) => device.Kernels.LinearForward(s, x, weight, bias, y));
    }

    /// <summary>Gradients of the loss with respect to the input, effective weight, weight, mask scores and bias, given
    /// dL/dy (<paramref name="gradOut"/>, Batch x OutFeatures). Only the non-null arrays of <paramref name="g"/> are computed.</summary>
    public static void Backward(LinearShape s, LayerParameters p, DeviceArray<float> x, DeviceArray<float> gradOut, LayerGradients g)
    {
        var device = Check(s, p, x);
        Validate.Array(gradOut, "output gradient", s.OutputLength, device, s);
        MaskedLayer.ValidateGradients(p, g, s.InputLength, s.WeightLength, s.OutFeatures, device, s);
        MaskedLayer.Backward(p, g, (weight, gradWeight, gradBias) =>
            device.Kernels.LinearBackward(s, x, weight, gradOut, g.Input, gradWeight, gradBias));
    }

    static Device Check(in LinearShape s, LayerParameters p, DeviceArray<float> x)
    {
        Validate.NonNegative(s.Batch, "batch", s);
        Validate.NonNegative(s.InFeatures, "in features", s);
        Validate.NonNegative(s.OutFeatures, "out features", s);
        var device = x.Device;
        Validate.Array(x, "input", s.InputLength, device, s);
        MaskedLayer.ValidateParameters(p, s.WeightLength, s.OutFeatures, device, s);
        return device;
    }
}
