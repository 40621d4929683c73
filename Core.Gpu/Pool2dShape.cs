namespace Hybrid.Core.Gpu;

/// <summary>A 2-D pooling over <see cref="Planes"/> planes of <see cref="Height"/> x <see cref="Width"/> (the N x C
/// planes of an NCHW tensor) into planes of <see cref="OutHeight"/> x <see cref="OutWidth"/>. The output size is the
/// caller's (PyTorch's floor or ceil mode, or an adaptive size), so it is given rather than derived.</summary>
public readonly record struct Pool2dShape(
    int Planes, int Height, int Width, int OutHeight, int OutWidth, int KernelH = 1, int KernelW = 1,
    int StrideH = 1, int StrideW = 1, int PadH = 0, int PadW = 0, int DilationH = 1, int DilationW = 1)
{
    public int PlaneSize => Height * Width;
    public int OutPlaneSize => OutHeight * OutWidth;
    public long InputLength => (long)Planes * PlaneSize;
    public long OutputLength => (long)Planes * OutPlaneSize;

    public override string ToString() =>
        $"pool2d({Planes} planes {Height}x{Width} -> {OutHeight}x{OutWidth}, kernel {KernelH}x{KernelW}, " +
        $"stride {StrideH}x{StrideW}, pad {PadH}x{PadW}, dil {DilationH}x{DilationW})";
}

/// <summary>Which input rectangle an average-pooling output reads, and what its sum is divided by.</summary>
public enum AverageWindows
{
    /// <summary>PyTorch's avg_pool2d with count_include_pad: the window clipped to the padded input, divided by its size.</summary>
    IncludePad,
    /// <summary>PyTorch's avg_pool2d without count_include_pad: divided by the number of real input elements.</summary>
    ExcludePad,
    /// <summary>adaptive_avg_pool2d: output i reads floor(i*H/out) .. ceil((i+1)*H/out) (kernel, stride and padding unused).</summary>
    Adaptive,
}
