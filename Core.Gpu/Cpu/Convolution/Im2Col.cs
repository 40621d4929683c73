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
        fixed (float* padded = Padded(s))
        {
            Pad(s, image, padded);
            Rows<Gather>(s, padded, c, col, ld, colOffset);
        }
    }

    /// <summary>The adjoint of <see cref="Unfold"/>: overwrites the plane <paramref name="image"/> of channel <paramref name="c"/>
    /// with the sum of every column entry that was read from each input pixel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Fold(in Conv2dShape s, float* col, int ld, int colOffset, int c, float* image)
    {
        int pw = s.Width + 2 * s.PadW;
        fixed (float* padded = Padded(s))
        {
            Simd.Zero(padded, (s.Height + 2 * s.PadH) * pw);
            Rows<Scatter>(s, padded, c, col, ld, colOffset);
            // Gradients that landed in the padding belong to no input pixel and are dropped.
            for (int r = 0; r < s.Height; r++) Simd.Copy(image + r * s.Width, padded + (r + s.PadH) * pw + s.PadW, s.Width);
        }
    }

    /// <summary>Visits the KH*KW column rows of channel <paramref name="c"/> and, for each output row, the padded-plane pixels
    /// it reads: <typeparamref name="TRow"/> moves OutWidth values between the two (a struct, so each use compiles to its
    /// own loop with no call through an interface).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows<TRow>(in Conv2dShape s, float* padded, int c, float* col, int ld, int colOffset) where TRow : struct, IRowTransfer
    {
        int oh = s.OutHeight, ow = s.OutWidth, pw = s.Width + 2 * s.PadW;
        for (int kh = 0; kh < s.KernelH; kh++)
            for (int kw = 0; kw < s.KernelW; kw++)
            {
                float* row = col + (long)((c * s.KernelH + kh) * s.KernelW + kw) * ld + colOffset;
                float* origin = padded + kh * s.DilationH * pw + kw * s.DilationW;
                for (int y = 0; y < oh; y++)
                {
                    float* pixels = origin + y * s.StrideH * pw, column = row + y * ow;
                    if (s.StrideW == 1) TRow.Contiguous(pixels, column, ow);
                    else if (s.StrideW == 2) TRow.Even(pixels, column, ow);
                    else TRow.Strided(pixels, column, ow, s.StrideW);
                }
            }
    }

    /// <summary>Moves <c>count</c> values between every <c>stride</c>-th pixel of a padded row and a column row; strides
    /// 1 and 2 (nearly every network) have their own vector loops.</summary>
    interface IRowTransfer
    {
        static abstract void Contiguous(float* pixels, float* column, int count);
        static abstract void Even(float* pixels, float* column, int count);
        static abstract void Strided(float* pixels, float* column, int count, int stride);
    }

    /// <summary>im2col: column[x] = pixels[x * stride].</summary>
    readonly struct Gather : IRowTransfer
    {
        public static void Contiguous(float* pixels, float* column, int count) => Simd.Copy(column, pixels, count);
        public static void Even(float* pixels, float* column, int count) => Simd.CopyEven(column, pixels, count);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Strided(float* pixels, float* column, int count, int stride)
        {
            for (int x = 0; x < count; x++) column[x] = pixels[x * stride];
        }
    }

    /// <summary>col2im: pixels[x * stride] += column[x].</summary>
    readonly struct Scatter : IRowTransfer
    {
        public static void Contiguous(float* pixels, float* column, int count) => Simd.Add(pixels, column, count);
        public static void Even(float* pixels, float* column, int count) => Simd.AddEven(pixels, column, count);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Strided(float* pixels, float* column, int count, int stride)
        {
            for (int x = 0; x < count; x++) pixels[x * stride] += column[x];
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
