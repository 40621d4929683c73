namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>PyTorch's F.conv2d: input (N, C, H, W), weight (O, C/groups, kH, kW), bias (O) or null.</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, Size2? stride = null, Size2? padding = null,
        Size2? dilation = null, int groups = 1) => throw new NotImplementedException("Conv2d");

    /// <summary>A convolution whose effective weight is weight * 1[weightMask > 0] (and bias * 1[biasMask > 0]); mask
    /// gradients follow <paramref name="rule"/> (straight-through, SeaM's clipped form).</summary>
    public static Tensor MaskedConv2d(Tensor input, Tensor weight, Tensor weightMask, Tensor? bias, Tensor? biasMask,
        Size2? stride = null, Size2? padding = null, Size2? dilation = null, int groups = 1,
        Gpu.MaskGradient rule = Gpu.MaskGradient.StraightThrough) => throw new NotImplementedException("MaskedConv2d");
}
