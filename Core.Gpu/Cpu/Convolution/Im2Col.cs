using System.Runtime.CompilerServices;

namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Unfolding one image channel into columns (im2col) and folding column gradients back (col2im). The column matrix
/// has one row per (c, kh, kw) and one column per output pixel; a chunk of images sits side by side, image i at column i * P.
/// Both go through a zero-padded copy of the plane, so every column row is a plain copy (or add) of OutWidth floats per output
/// row with no boundary tests: on 8- to 32-wide CIFAR rows the edge handling otherwise costs more than the copying.</summary>
internal static unsafe class Im2Col
{
    [ThreadStatic] static float[]? scratch;

    /// <summary>A per-thread buffer for one padded plane; kept for the thread's lifetime since every convolution call needs it.
    /// One float of slack lets stride-2 rows end on a whole vector (<see cref="Simd.CopyEven"/>).</summary>
    static float[] Padded(in Conv2dShape s)
    {
        int length = (s.Height + 2 * s.PadH) * (s.Width + 2 * s.PadW) + 1;
        if (scratch is null || scratch.Length < length) scratch = new float[length];
        return scratch;
    }

    /// <summary>Writes the KH*KW rows of channel <paramref name="c"/> (within its group) for the plane <paramref name="image"/>
    /// (H x W) into <paramref name="col"/> (row stride <paramref name="ld"/>), starting at column <paramref name="colOffset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Unfold(in Conv2dShape s, float* image, int c, float* col, int ld, int colOffset)
    {
        int oh = s.OutHeight, ow = s.OutWidth, pw = s.Width + 2 * s.PadW;
        fixed (float* padded = Padded(s))
        {
            Pad(s, image, padded);
            for (int kh = 0; kh < s.KernelH; kh++)
            for (int kw = 0; kw < s.KernelW; kw++)
            {
                float* row = col + (long)((c * s.KernelH + kh) * s.KernelW + kw) * ld + colOffset;
                float* origin = padded + kh * s.DilationH * pw + kw * s.DilationW;
                for (int y = 0; y < oh; y++)
                {
                    float* src = origin + y * s.StrideH * pw, dst = row + y * ow;
                    if (s.StrideW == 1) Simd.Copy(dst, src, ow);
                    else if (s.StrideW == 2) Simd.CopyEven(dst, src, ow);
                    else
                        for (int x = 0; x < ow; x++) dst[x] = src[x * s.StrideW];
                }
            }
        }
    }

    /// <summary>The adjoint of <see cref="Unfold"/>: overwrites the plane <paramref name="image"/> of channel <paramref name="c"/>
    /// with the sum of every column entry that was read from each input pixel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Fold(in Conv2dShape s, float* col, int ld, int colOffset, int c, float* image)
    {
        int oh = s.OutHeight, ow = s.OutWidth, pw = s.Width + 2 * s.PadW;
        fixed (float* padded = Padded(s))
        {
            Simd.Zero(padded, (s.Height + 2 * s.PadH) * pw);
            for (int kh = 0; kh < s.KernelH; kh++)
            for (int kw = 0; kw < s.KernelW; kw++)
            {
                float* row = col + (long)((c * s.KernelH + kh) * s.KernelW + kw) * ld + colOffset;
                float* origin = padded + kh * s.DilationH * pw + kw * s.DilationW;
                for (int y = 0; y < oh; y++)
                {
                    float* dst = origin + y * s.StrideH * pw, src = row + y * ow;
                    if (s.StrideW == 1) Simd.Add(dst, src, ow);
                    else if (s.StrideW == 2) Simd.AddEven(dst, src, ow);
                    else
                        for (int x = 0; x < ow; x++) dst[x * s.StrideW] += src[x];
                }
            }
            // Gradients that landed in the padding belong to no input pixel and are dropped.
            for (int r = 0; r < s.Height; r++) Simd.Copy(image + r * s.Width, padded + (r + s.PadH) * pw + s.PadW, s.Width);
        }
    }

    /// <summary>Copies an H x W plane into the middle of a zeroed (H + 2 PadH) x (W + 2 PadW) one.</summary>
    internal static void Pad(in Conv2dShape s, float* source, float* destination) => Pad(source, s.Height, s.Width, s.PadH, s.PadW, destination);

    /// <summary>Copies an h x w plane into the middle of a zeroed (h + 2 padH) x (w + 2 padW) one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Pad(float* source, int h, int w, int padH, int padW, float* destination)
    {
        int pw = w + 2 * padW;
        Simd.Zero(destination, padH * pw);
        Simd.Zero(destination + (padH + h) * pw, padH * pw);
        for (int r = 0; r < h; r++)
        {
            float* row = destination + (padH + r) * pw;
            Simd.Zero(row, padW);
            Simd.Copy(row + padW, source + r * w, w);
            Simd.Zero(row + padW + w, padW);
        }
    }
}
