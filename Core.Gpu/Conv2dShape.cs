using Hybrid.Core.Gpu.Reference;

namespace Hybrid.Core.Gpu;

/// <summary>A 2-D convolution in NCHW layout with PyTorch's semantics: weight (OutChannels, InChannels/Groups, KernelH, KernelW),
/// cross-correlation, zero padding.</summary>
public readonly record struct Conv2dShape(
    int Batch, int InChannels, int Height, int Width, int OutChannels, int KernelH, int KernelW,
    int StrideH = 1, int StrideW = 1, int PadH = 0, int PadW = 0, int DilationH = 1, int DilationW = 1, int Groups = 1) : ILayerShape
{
    public int OutHeight => (Height + 2 * PadH - DilationH * (KernelH - 1) - 1) / StrideH + 1;
    public int OutWidth => (Width + 2 * PadW - DilationW * (KernelW - 1) - 1) / StrideW + 1;
    public int InChannelsPerGroup => InChannels / Groups;
    public int OutChannelsPerGroup => OutChannels / Groups;
    /// <summary>Length of one filter: InChannels/Groups * KernelH * KernelW (the K of the convolution as a GEMM).</summary>
    public int FilterLength => InChannelsPerGroup * KernelH * KernelW;
    public int InputLength => Batch * InChannels * Height * Width;
    public int OutputLength => Batch * OutChannels * OutHeight * OutWidth;
    public int WeightLength => OutChannels * FilterLength;

    /// <summary>A square convolution: kernel k, stride s, padding p, dilation d, groups g.</summary>
    public static Conv2dShape Square(int batch, int inChannels, int size, int outChannels, int k, int s = 1, int p = 0, int d = 1, int g = 1) =>
        new(batch, inChannels, size, size, outChannels, k, k, s, s, p, p, d, d, g);

    public override string ToString() =>
        $"conv2d(x {Batch}x{InChannels}x{Height}x{Width}, w {OutChannels}x{InChannelsPerGroup}x{KernelH}x{KernelW}, " +
        $"stride {StrideH}x{StrideW}, pad {PadH}x{PadW}, dil {DilationH}x{DilationW}, groups {Groups})";

    int ILayerShape.BiasLength => OutChannels;

    /// <summary>Checks the geometry of a convolution; used by the dense and sparse forms alike.</summary>
    internal void Check()
    {
        Validate.NonNegative(Batch, "batch", this);
        Validate.Positive(this, ("in channels", InChannels), ("out channels", OutChannels));
        Validate.NonNegative(this, ("height", Height), ("width", Width));
        Validate.Window(KernelH, KernelW, StrideH, StrideW, PadH, PadW, DilationH, DilationW, this);
        Validate.Positive(Groups, "groups", this);
        if (InChannels % Groups != 0 || OutChannels % Groups != 0)
            throw new ArgumentException($"{this}: in channels {InChannels} and out channels {OutChannels} must both be divisible by groups {Groups}");
        if (Height + 2 * PadH < DilationH * (KernelH - 1) + 1 || Width + 2 * PadW < DilationW * (KernelW - 1) + 1)
            throw new ArgumentException($"{this}: the padded input is smaller than the dilated kernel");
    }

    void ILayerShape.Check() => Check();

    void ILayerShape.ReferenceForward<T>(T[] x, T[] weight, T[]? bias, T[] y) => ReferenceLoops.Conv2dForward(this, x, weight, bias, y);

    void ILayerShape.ReferenceBackward<T>(T[] x, T[] weight, T[] gradOut, T[]? gradInput, T[]? gradWeight, T[]? gradBias) =>
        ReferenceLoops.Conv2dBackward(this, x, weight, gradOut, gradInput, gradWeight, gradBias);
}
