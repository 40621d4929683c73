namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>F.max_pool2d on (N, C, H, W); stride defaults to the kernel; padding counts as -infinity.</summary>
    public static Tensor MaxPool2d(Tensor input, Size2 kernel, Size2? stride = null, Size2? padding = null, Size2? dilation = null,
        bool ceilMode = false) => throw new NotImplementedException("MaxPool2d");

    /// <summary>F.avg_pool2d on (N, C, H, W).</summary>
    public static Tensor AvgPool2d(Tensor input, Size2 kernel, Size2? stride = null, Size2? padding = null, bool ceilMode = false,
        bool countIncludePad = true) => throw new NotImplementedException("AvgPool2d");

    /// <summary>F.adaptive_avg_pool2d on (N, C, H, W) with PyTorch's window bounds floor(i*H/out) .. ceil((i+1)*H/out).</summary>
    public static Tensor AdaptiveAvgPool2d(Tensor input, Size2 outputSize) => throw new NotImplementedException("AdaptiveAvgPool2d");
}
