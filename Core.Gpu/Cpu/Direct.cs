using System.Buffers;

namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Convolutions whose output rows are whole vectors, read straight off zero-padded planes instead of a column matrix;
/// described by the plane they read (channels, size, padding) and the filter's geometry. Each padded channel is split into
/// strideH x strideW phase planes, phase (a, b) holding padded rows a, a + strideH, ... and of those the columns b, b + strideW,
/// ...; at stride 1 that is just the padded plane. The inputs of sixteen neighbouring outputs are then sixteen neighbours, and
/// column-matrix row (c, kh, kw) is one offset (a tap) into the phases, which <see cref="NarrowGemm.Multiply"/> and
/// <see cref="NarrowDots.Accumulate"/> take in place of a row stride: one copy of the input instead of im2col's KH x KW.
/// (Copies cropped per kernel column would serve 8-pixel rows too, but measured slower there than the column matrix.)</summary>
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

    public static bool InputApplies(in Conv2dShape s) => s.OutWidth % 16 == 0;

    /// <summary>Whether the input gradient can be computed by <see cref="Gradient"/>: at stride 1, on rows of whole vectors.</summary>
    public static bool GradientApplies(in Conv2dShape s) =>
        s.StrideH == 1 && s.StrideW == 1 && s.Width % 16 == 0 && s.Height * s.Width % NarrowGemm.Strip == 0
        && s.DilationH * (s.KernelH - 1) >= s.PadH && s.DilationW * (s.KernelW - 1) >= s.PadW && NarrowGemm.Fits(s.InChannels, s.OutChannels * s.KernelH * s.KernelW);

    int PaddedHeight => height + 2 * padH;

    int PaddedWidth => width + 2 * padW;

    int Rows => (PaddedHeight + strideH - 1) / strideH;

    /// <summary>Floats between rows of a phase.</summary>
    public int Pitch => (PaddedWidth + strideW - 1) / strideW;

    /// <summary>Pixels per output row, as the kernels address B.</summary>
    public int RowLength => outWidth;

    int Phase => Rows * Pitch;

    /// <summary>Floats of one image's phases.</summary>
    public int Length => channels * strideH * strideW * Phase;

    /// <summary>Depth of the GEMM: one tap per (channel, kh, kw).</summary>
    public int Depth => channels * kernelH * kernelW;

    public void Taps(int* taps)
    {
        for (int c = 0; c < channels; c++)
        for (int kh = 0; kh < kernelH; kh++)
        for (int kw = 0; kw < kernelW; kw++)
        {
            int dy = kh * dilationH, dx = kw * dilationW;
            int phase = (c * strideH + dy % strideH) * strideW + dx % strideW;
            taps[(c * kernelH + kh) * kernelW + kw] = phase * Phase + dy / strideH * Pitch + dx / strideW;
        }
    }

    /// <summary>Writes the phases of every channel of the plane stack at <paramref name="source"/> into <paramref name="scratch"/>,
    /// which it returns.</summary>
    public float* Fill(float* source, float* scratch)
    {
        int plane = height * width;
        if (strideH == 1 && strideW == 1)
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
                for (int b = 0; b < strideW; b++)
                {
                    int columns = (PaddedWidth - b + strideW - 1) / strideW;
                    float* phase = scratch + ((long)(c * strideH + a) * strideW + b) * Phase;
                    for (int u = 0; u < Rows; u++)
                    {
                        float* dst = phase + u * Pitch, src = padded + (u * strideH + a) * PaddedWidth + b;
                        int n = u * strideH + a < PaddedHeight ? columns : 0;
                        if (strideW == 1) Simd.Copy(dst, src, n);
                        else if (strideW == 2) Simd.CopyEven(dst, src, n);
                        else
                            for (int v = 0; v < n; v++) dst[v] = src[v * strideW];
                        Simd.Zero(dst + n, Pitch - n);
                    }
                }
            }
        ArrayPool<float>.Shared.Return(buffer);
        return scratch;
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
