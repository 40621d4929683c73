namespace Hybrid.Core.Gpu;

/// <summary>2-D convolutions in NCHW, masked or plain (PyTorch's <c>F.conv2d</c> with SeaM's weight masks).</summary>
public static class Conv2d
{
    /// <summary>y (Batch, OutChannels, OutHeight, OutWidth) from x (Batch, InChannels, Height, Width).</summary>
    public static void Forward(Conv2dShape s, LayerParameters p, DeviceArray<float> x, DeviceArray<float> y)
    {
        var device = Check(s, p, x);
        Validate.Array(y, "output", s.OutputLength, device, s);
        if (s.OutputLength == 0) return;
        MaskedLayer.Forward(p, (weight, bias) => device.Kernels.Conv2dForward(s, x, weight, bias, y));
    }

    /// <summary>Gradients given dL/dy; only the non-null arrays of <paramref name="g"/> are computed.</summary>
    public static void Backward(Conv2dShape s, LayerParameters p, DeviceArray<float> x, DeviceArray<float> gradOut, LayerGradients g)
    {
        var device = Check(s, p, x);
        Validate.Array(gradOut, "output gradient", s.OutputLength, device, s);
        MaskedLayer.ValidateGradients(p, g, s.InputLength, s.WeightLength, s.OutChannels, device, s);
        MaskedLayer.Backward(p, g, (weight, gradWeight, gradBias) =>
            device.Kernels.Conv2dBackward(s, x, weight, gradOut, g.Input, gradWeight, gradBias));
    }

    /// <summary>Checks the geometry of a convolution; used by the dense and sparse forms alike.</summary>
    internal static void CheckShape(in Conv2dShape s)
    {
        Validate.NonNegative(s.Batch, "batch", s);
        Validate.Positive(s.InChannels, "in channels", s);
        Validate.Positive(s.OutChannels, "out channels", s);
        Validate.NonNegative(s.Height, "height", s);
        Validate.NonNegative(s.Width, "width", s);
        Validate.Positive(s.KernelH, "kernel height", s);
        Validate.Positive(s.KernelW, "kernel width", s);
        Validate.Positive(s.StrideH, "stride", s);
        Validate.Positive(s.StrideW, "stride", s);
        Validate.NonNegative(s.PadH, "padding", s);
        Validate.NonNegative(s.PadW, "padding", s);
        Validate.Positive(s.DilationH, "dilation", s);
        Validate.Positive(s.DilationW, "dilation", s);
        Validate.Positive(s.Groups, "groups", s);
        if (s.InChannels % s.Groups != 0 || s.OutChannels % s.Groups != 0)
            throw new ArgumentException($"{s}: in channels {s.InChannels} and out channels {s.OutChannels} must both be divisible by groups {s.Groups}");
        if (s.Height + 2 * s.PadH < s.DilationH * (s.KernelH - 1) + 1 || s.Width + 2 * s.PadW < s.DilationW * (s.KernelW - 1) + 1)
            throw new ArgumentException($"{s}: the padded input is smaller than the dilated kernel");
    }

    static Device Check(in Conv2dShape s, LayerParameters p, DeviceArray<float> x)
    {
        CheckShape(s);
        var device = x.Device;
        Validate.Array(x, "input", s.InputLength, device, s);
        MaskedLayer.ValidateParameters(p, s.WeightLength, s.OutChannels, device, s);
        return device;
    }
}
