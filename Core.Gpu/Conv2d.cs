using Hybrid.Core.Gpu.Reference;

namespace Hybrid.Core.Gpu;

/// <summary>2-D convolutions in NCHW, masked or plain (PyTorch's <c>F.conv2d</c> with SeaM's weight masks).</summary>
public static class Conv2d
{
    /// <summary>y (Batch, OutChannels, OutHeight, OutWidth) from x (Batch, InChannels, Height, Width).</summary>
    public static void Forward(Conv2dShape s, LayerParameters p, DeviceArray<float> x, DeviceArray<float> y)
    {
        CheckShape(s);
        MaskedLayer.Forward(Sizes(s), s, p, x, y, (device, weight, bias) => device.Kernels.Conv2dForward(s, x, weight, bias, y));
    }

    /// <summary>Gradients given dL/dy; only the non-null arrays of <paramref name="g"/> are computed.</summary>
    public static void Backward(Conv2dShape s, LayerParameters p, DeviceArray<float> x, DeviceArray<float> gradOut, LayerGradients g)
    {
        CheckShape(s);
        MaskedLayer.Backward(Sizes(s), s, p, x, gradOut, g, (device, weight, gradWeight, gradBias) =>
            device.Kernels.Conv2dBackward(s, x, weight, gradOut, g.Input, gradWeight, gradBias));
    }

    /// <summary>The convolution on host arrays of float32 or float64 in the plain loops of the specification (Core.Nn's
    /// float64 path), overwriting y.</summary>
    public static void Forward<T>(Conv2dShape s, T[] x, T[] weight, T[]? bias, T[] y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckShape(s);
        MaskedLayer.HostForward(Sizes(s), s, x, weight, bias, y);
        ReferenceLoops.Conv2dForward(s, x, weight, bias, y);
    }

    /// <summary>The gradients of <see cref="Forward{T}"/> given dL/dy, overwriting each non-null output.</summary>
    public static void Backward<T>(Conv2dShape s, T[] x, T[] weight, T[] gradOut, T[]? gradInput, T[]? gradWeight, T[]? gradBias)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckShape(s);
        MaskedLayer.HostBackward(Sizes(s), s, x, weight, gradOut, gradInput, gradWeight, gradBias);
        ReferenceLoops.Conv2dBackward(s, x, weight, gradOut, gradInput, gradWeight, gradBias);
    }

    static LayerSizes Sizes(in Conv2dShape s) => new(s.InputLength, s.WeightLength, s.OutChannels, s.OutputLength);

    /// <summary>Checks the geometry of a convolution; used by the dense and sparse forms alike.</summary>
    internal static void CheckShape(in Conv2dShape s)
    {
        Validate.NonNegative(s.Batch, "batch", s);
        Validate.Positive(s, ("in channels", s.InChannels), ("out channels", s.OutChannels));
        Validate.NonNegative(s, ("height", s.Height), ("width", s.Width));
        Validate.Window(s.KernelH, s.KernelW, s.StrideH, s.StrideW, s.PadH, s.PadW, s.DilationH, s.DilationW, s);
        Validate.Positive(s.Groups, "groups", s);
        if (s.InChannels % s.Groups != 0 || s.OutChannels % s.Groups != 0)
            throw new ArgumentException($"{s}: in channels {s.InChannels} and out channels {s.OutChannels} must both be divisible by groups {s.Groups}");
        if (s.Height + 2 * s.PadH < s.DilationH * (s.KernelH - 1) + 1 || s.Width + 2 * s.PadW < s.DilationW * (s.KernelW - 1) + 1)
            throw new ArgumentException($"{s}: the padded input is smaller than the dilated kernel");
    }
}
