namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Convolutions whose output rows are whole vectors, read straight off zero-padded planes instead of a column matrix;
/// described by the plane they read (channels, size, padding) and the filter's geometry. Each padded channel is split into
/// strideH x strideW phase planes, phase (a, b) holding padded rows a, a + strideH, ... and of those the columns b, b + strideW,
/// ...; at stride 1 that is just the padded plane. The inputs of sixteen neighbouring outputs are then sixteen neighbours, and
/// column-matrix row (c, kh, kw) is one offset (a tap) into the phases, which <see cref="NarrowGemm.Multiply"/> and
/// <see cref="NarrowDots.Accumulate"/> take in place of a row stride: one copy of the input instead of im2col's KH x KW.
/// Output rows narrower than a vector (8-pixel planes) are served by cropped copies instead: for each row phase a and kernel
/// column kw, the padded rows a, a + strideH, ... cut to the OutWidth columns that kernel column reads, so consecutive output
/// pixels are consecutive floats and tap (c, kh, kw) is the start of a copy plus whole rows; KW copies of the plane instead
/// of im2col's KH x KW, and for the input gradient no col2im.</summary>
internal readonly unsafe struct Direct(int channels, int height, int width, int padH, int padW, int strideH, int strideW, int dilationH,
    int dilationW, int kernelH, int kernelW, int outWidth)
{
    /// <summary>The forward convolution's input (also what the weight gradient reads).</summary>
    public static Direct Input(in Conv2dShape s) =>
        new(s.InChannels, s.Height, s.Width, s.PadH, s.PadW, s.StrideH, s.StrideW, s.DilationH, s.DilationW, s.KernelH, s.KernelW, s.OutWidth);

    /// <summary>The input gradient as a stride-1 convolution of dY, padded by dilation (K - 1) - pad, with the flipped filter
    /// (<see cref="PackFlipped"/>): it replaces W^T dY and col2im.</summary>
    public static Direct Gradient(in Conv2dShape s) =>
        new(s.OutChannels, s.OutHeight, s.OutWidth, s.DilationH * (s.KernelH - 1) - s.PadH, s.DilationW * (s.KernelW - 1) - s.PadW, 1, 1,
            s.DilationH, s.DilationW, s.KernelH, s.KernelW, s.Width);

    /// <summary>Whether the forward convolution can read <see cref="Input"/>: output rows of whole vectors, or planes of them.</summary>
    public static bool InputApplies(in Conv2dShape s) => s.OutWidth % 16 == 0 || s.OutHeight * s.OutWidth % 16 == 0;

    /// <summary>Whether the weight gradient should read <see cref="Input"/>: there the dot products ran slower on cropped copies
    /// than on the column matrix, so only whole-vector rows qualify.</summary>
    public static bool WeightGradientApplies(in Conv2dShape s) => s.OutWidth % 16 == 0;

    /// <summary>Whether the input gradient can be computed by <see cref="Gradient"/>: at stride 1, on rows or planes of whole vectors.</summary>
    public static bool GradientApplies(in Conv2dShape s) =>
        s.StrideH == 1 && s.StrideW == 1 && s.Height * s.Width % NarrowGemm.Strip == 0
        && s.DilationH * (s.KernelH - 1) >= s.PadH && s.DilationW * (s.KernelW - 1) >= s.PadW && NarrowGemm.Fits(s.InChannels, s.OutChannels * s.KernelH * s.KernelW);

    /// <summary>Whether rows are read from cropped copies, one per row phase and kernel column.</summary>
    bool Cropped => outWidth % 16 != 0;

    int PaddedHeight => height + 2 * padH;

    int PaddedWidth => width + 2 * padW;

    int Rows => (PaddedHeight + strideH - 1) / strideH;

    /// <summary>Floats between rows of a phase. Cropped copies hold the plane's pixels back to back, so the kernels may take
    /// them as rows of one vector.</summary>
    public int Pitch => Cropped ? 16 : (PaddedWidth + strideW - 1) / strideW;

    /// <summary>Pixels per output row, as the kernels address B.</summary>
    public int RowLength => Cropped ? 16 : outWidth;

    int Phase => Rows * (Cropped ? outWidth : Pitch);

    /// <summary>Phases (or cropped copies) per channel.</summary>
    int Copies => strideH * (Cropped ? kernelW : strideW);

    /// <summary>Floats of one image's phases.</summary>
    public int Length => channels * Copies * Phase;

    /// <summary>Depth of the GEMM: one tap per (channel, kh, kw).</summary>
    public int Depth => channels * kernelH * kernelW;

    public void Taps(int* taps)
    {
        for (int c = 0; c < channels; c++)
            for (int kh = 0; kh < kernelH; kh++)
                for (int kw = 0; kw < kernelW; kw++)
                {
                    int dy = kh * dilationH, dx = kw * dilationW;
                    taps[(c * kernelH + kh) * kernelW + kw] = Cropped
                        ? ((c * strideH + dy % strideH) * kernelW + kw) * Phase + dy / strideH * outWidth
                        : ((c * strideH + dy % strideH) * strideW + dx % strideW) * Phase + dy / strideH * Pitch + dx / strideW;
                }
    }

    /// <summary>Writes the phases of every channel of the plane stack at <paramref name="source"/> into <paramref name="scratch"/>,
    /// which it returns.</summary>
    public float* Fill(float* source, float* scratch)
    {
        int plane = height * width;
        if (strideH == 1 && strideW == 1 && !Cropped)
        {
            for (int c = 0; c < channels; c++) Im2Col.Pad(source + (long)c * plane, height, width, padH, padW, scratch + (long)c * Phase);
            return scratch;
        }
        // One float of slack for the last row's vector read (Simd.CopyEven).
        float[] buffer = ArrayPool<float>.Shared.Rent(PaddedHeight * PaddedWidth + 1);
        fixed (float* padded = buffer)
            for (int c = 0; c < channels; c++)
            {
                Im2Col.Pad(source + (long)c * plane, height, width, padH, padW, padded);
                for (int a = 0; a < strideH; a++)
                    if (Cropped)
                        for (int kw = 0; kw < kernelW; kw++)
                            Split(padded + kw * dilationW, a, outWidth, outWidth, scratch + ((long)(c * strideH + a) * kernelW + kw) * Phase);
                    else
                        for (int b = 0; b < strideW; b++)
                            Split(padded + b, a, (PaddedWidth - b + strideW - 1) / strideW, Pitch,
                                scratch + ((long)(c * strideH + a) * strideW + b) * Phase);
            }
        ArrayPool<float>.Shared.Return(buffer);
        return scratch;
    }

    /// <summary>Writes padded rows a, a + strideH, ... from <paramref name="origin"/> on, every strideW-th float of each, as
    /// <paramref name="columns"/> floats per row <paramref name="pitch"/> apart; rows past the plane and the rest of each row are zero.</summary>
    void Split(float* origin, int a, int columns, int pitch, float* destination)
    {
        for (int u = 0; u < Rows; u++)
        {
            float* dst = destination + u * pitch, src = origin + (u * strideH + a) * PaddedWidth;
            int n = u * strideH + a < PaddedHeight ? columns : 0;
            if (strideW == 1) Simd.Copy(dst, src, n);
            else if (strideW == 2) Simd.CopyEven(dst, src, n);
            else
                for (int v = 0; v < n; v++) dst[v] = src[v * strideW];
            Simd.Zero(dst + n, pitch - n);
        }
    }

    public static int FlippedLength(in Conv2dShape s) => NarrowGemm.PackedLength(s.InChannels, s.OutChannels * s.KernelH * s.KernelW);

    /// <summary>Packs W'[c, (o, kh, kw)] = W[o, c, KH-1-kh, KW-1-kw], the filter of the input gradient's convolution.</summary>
    public static void PackFlipped(in Conv2dShape s, float* w, float* packed)
    {
        int taps = s.KernelH * s.KernelW, depth = s.OutChannels * taps;
        float[] flipped = ArrayPool<float>.Shared.Rent(s.InChannels * depth);
        try
        {
            fixed (float* f = flipped)
            {
                for (int c = 0; c < s.InChannels; c++)
                    for (int o = 0; o < s.OutChannels; o++)
                        for (int t = 0; t < taps; t++)
                            f[(long)c * depth + o * taps + t] = w[((long)o * s.InChannels + c) * taps + taps - 1 - t];
                NarrowGemm.Pack(s.InChannels, depth, f, depth, 1, packed);
            }
        }
        finally { ArrayPool<float>.Shared.Return(flipped); }
    }
}
