using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Direct convolution from CSR weights, vectorised across images: a chunk of up to 32 images is restaged as
/// (channel, padded row, padded column, image), so one tap at one output pixel is a multiply-add of contiguous vectors over the
/// images. Every stride, dilation and padding then reduces to the same tap offsets, each tap costs one broadcast for up to
/// four vectors of work, and the work is proportional to the surviving taps. Batches below 8 (and very large images) use
/// <see cref="SparsePlanes"/>.</summary>
internal static unsafe class SparseConv
{
    const int Lanes = 8, MaxImages = 4 * Lanes;
    /// <summary>Floats the staged chunk may take (32 MB); beyond that the per-plane form is used.</summary>
    const long StageBudget = 8 << 20;

    public static void Forward(in Conv2dShape s, int[] rowStart, int[] columns, float[] values, float[] x, float[]? bias, float[] y)
    {
        int ph = s.Height + 2 * s.PadH, pw = s.Width + 2 * s.PadW;
        // Small batches would leave most lanes empty, and huge planes would make the staged chunk too large to keep in cache.
        if (s.Batch < Lanes || (long)s.InChannels * ph * pw * MaxImages > StageBudget)
        {
            SparsePlanes.Forward(s, rowStart, columns, values, x, bias, y);
            return;
        }
        var shape = s;
        int[] offsets = TapOffsets(s, columns, rowStart[^1], MaxImages);
        float[] staged = ArrayPool<float>.Shared.Rent(s.InChannels * ph * pw * MaxImages);
        try
        {
            fixed (float* pStaged = staged, px = x, py = y, pv = values)
            fixed (int* pOff = offsets, pStart = rowStart)
            {
                var (aStaged, ax, ay, av, aOff, aStart) = ((nint)pStaged, (nint)px, (nint)py, (nint)pv, (nint)pOff, (nint)pStart);
                for (int n0 = 0; n0 < s.Batch; n0 += MaxImages)
                {
                    int count = Math.Min(MaxImages, s.Batch - n0), first = n0;
                    Ranges.Items(s.InChannels, c => Stage(shape, (float*)ax, first, count, c, (float*)aStaged, ph, pw));
                    Ranges.Items(s.OutChannels * s.OutHeight, item =>
                    {
                        // Row-major items: neighbours (one thread takes a run of them) share the same few input rows in cache.
                        int row = item / shape.OutChannels, o = item % shape.OutChannels;
                        int t0 = ((int*)aStart)[o], taps = ((int*)aStart)[o + 1] - t0;
                        float* input = (float*)aStaged + (long)(o / shape.OutChannelsPerGroup) * shape.InChannelsPerGroup * ph * pw * MaxImages;
                        OutputRow(shape, input, (int*)aOff + t0, (float*)av + t0, taps, bias?[o] ?? 0f, (float*)ay, first, count, o, row, pw);
                    });
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(staged); }
    }

    /// <summary>For each stored tap (column c * KH * KW + kh * KW + kw of its row), its offset in the padded input of the group,
    /// in units of <paramref name="scale"/> floats per padded pixel: ((c * PH + kh * dh) * PW + kw * dw) * scale.</summary>
    internal static int[] TapOffsets(in Conv2dShape s, int[] columns, int count, int scale)
    {
        int ph = s.Height + 2 * s.PadH, pw = s.Width + 2 * s.PadW, taps = s.KernelH * s.KernelW;
        var offsets = new int[count];
        for (int t = 0; t < count; t++)
        {
            int col = columns[t], c = col / taps, kh = col % taps / s.KernelW, kw = col % s.KernelW;
            offsets[t] = ((c * ph + kh * s.DilationH) * pw + kw * s.DilationW) * scale;
        }
        return offsets;
    }

    /// <summary>Writes channel <paramref name="c"/> of images [first, first + count) into the staged layout, zero in the
    /// padding and in the lanes past <paramref name="count"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Stage(in Conv2dShape s, float* x, int first, int count, int c, float* staged, int ph, int pw)
    {
        float* plane = staged + (long)c * ph * pw * MaxImages;
        Simd.Zero(plane, ph * pw * MaxImages);
        int size = s.Height * s.Width, whole = count & ~(Lanes - 1);
        long imageStride = (long)s.InChannels * size;
        for (int r = 0; r < s.Height; r++)
        {
            float* dstRow = plane + ((r + s.PadH) * pw + s.PadW) * MaxImages;
            float* srcRow = x + ((long)first * s.InChannels + c) * size + r * s.Width;
            // Eight images by eight columns at a time become eight columns by eight image lanes.
            int col = 0;
            for (; col <= s.Width - Lanes; col += Lanes)
                for (int i = 0; i < whole; i += Lanes)
                    Simd.Transpose8x8(srcRow + i * imageStride + col, imageStride, dstRow + col * MaxImages + i, MaxImages);
            for (int i = 0; i < count; i++)
                for (int j = i < whole ? col : 0; j < s.Width; j++) dstRow[j * MaxImages + i] = srcRow[i * imageStride + j];
        }
    }

    /// <summary>Output row <paramref name="row"/> of channel <paramref name="o"/> for the chunk's images: each pixel accumulates
    /// its taps into four vectors (32 images) seeded with the bias; a block of pixels is collected in a tile and then written
    /// out image by image, so the stores to NCHW run along rows instead of striding across images.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void OutputRow(in Conv2dShape s, float* input, int* offsets, float* values, int taps, float bias, float* y, int first, int count,
        int o, int row, int pw)
    {
        const int Block = 64;
        int ow = s.OutWidth, plane = s.OutHeight * ow;
        float* tile = stackalloc float[Block * MaxImages];
        float* outRow = y + ((long)first * s.OutChannels + o) * plane + row * ow;
        long imageStride = (long)s.OutChannels * plane;
        var b = Vector256.Create(bias);
        int next = s.StrideW * MaxImages;
        for (int x0 = 0; x0 < ow; x0 += Block)
        {
            int width = Math.Min(Block, ow - x0);
            int x = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; x + 7 < width; x += 8)
                    EightPixels(input + ((long)row * s.StrideH * pw + (x0 + x) * s.StrideW) * MaxImages, offsets, values, taps, next, bias,
                        tile + x * MaxImages);
            // Two pixels at a time: eight independent accumulators keep both FMA pipes busy through each other's latency.
            for (; x + 1 < width; x += 2)
            {
                float* at = input + ((long)row * s.StrideH * pw + (x0 + x) * s.StrideW) * MaxImages;
                Vector256<float> a0 = b, a1 = b, a2 = b, a3 = b, c0 = b, c1 = b, c2 = b, c3 = b;
                for (int t = 0; t < taps; t++)
                {
                    var v = Vector256.Create(values[t]);
                    float* q = at + offsets[t], r = q + next;
                    a0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q), a0);
                    a1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + Lanes), a1);
                    a2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + 2 * Lanes), a2);
                    a3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + 3 * Lanes), a3);
                    c0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(r), c0);
                    c1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(r + Lanes), c1);
                    c2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(r + 2 * Lanes), c2);
                    c3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(r + 3 * Lanes), c3);
                }
                Store(tile + x * MaxImages, a0, a1, a2, a3);
                Store(tile + (x + 1) * MaxImages, c0, c1, c2, c3);
            }
            if (x < width)
            {
                float* at = input + ((long)row * s.StrideH * pw + (x0 + x) * s.StrideW) * MaxImages;
                Vector256<float> a0 = b, a1 = b, a2 = b, a3 = b;
                for (int t = 0; t < taps; t++)
                {
                    var v = Vector256.Create(values[t]);
                    float* q = at + offsets[t];
                    a0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q), a0);
                    a1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + Lanes), a1);
                    a2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + 2 * Lanes), a2);
                    a3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + 3 * Lanes), a3);
                }
                Store(tile + x * MaxImages, a0, a1, a2, a3);
            }
            // Back to NCHW: eight pixels by eight image lanes become eight images by eight pixels.
            int whole = count & ~(Lanes - 1), x8 = 0;
            for (; x8 <= width - Lanes; x8 += Lanes)
                for (int i = 0; i < whole; i += Lanes)
                    Simd.Transpose8x8(tile + x8 * MaxImages + i, MaxImages, outRow + i * imageStride + x0 + x8, imageStride);
            for (int i = 0; i < count; i++)
            {
                float* dst = outRow + i * imageStride + x0;
                for (int j = i < whole ? x8 : 0; j < width; j++) dst[j] = tile[j * MaxImages + i];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* cell, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
    {
        a0.Store(cell);
        a1.Store(cell + Lanes);
        a2.Store(cell + 2 * Lanes);
        a3.Store(cell + 3 * Lanes);
    }

    /// <summary>Eight neighbouring pixels of one output row in sixteen 512-bit accumulators (32 registers allow it): each tap
    /// then reads one contiguous kilobyte, which neighbouring taps (the next kw) largely reread from L1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void EightPixels(float* at, int* offsets, float* values, int taps, int next, float bias, float* cells)
    {
        var b = Vector512.Create(bias);
        Vector512<float> a0 = b, b0 = b, a1 = b, b1 = b, a2 = b, b2 = b, a3 = b, b3 = b, a4 = b, b4 = b, a5 = b, b5 = b, a6 = b, b6 = b, a7 = b, b7 = b;
        const int H = 2 * Lanes;
        for (int t = 0; t < taps; t++)
        {
            var v = Vector512.Create(values[t]);
            float* q = at + offsets[t];
            a0 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a0);
            b0 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + H), b0);
            q += next;
            a1 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a1);
            b1 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + H), b1);
            q += next;
            a2 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a2);
            b2 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + H), b2);
            q += next;
            a3 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a3);
            b3 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + H), b3);
            q += next;
            a4 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a4);
            b4 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + H), b4);
            q += next;
            a5 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a5);
            b5 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + H), b5);
            q += next;
            a6 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a6);
            b6 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + H), b6);
            q += next;
            a7 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a7);
            b7 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + H), b7);
        }
        a0.Store(cells); b0.Store(cells + H);
        a1.Store(cells + MaxImages); b1.Store(cells + MaxImages + H);
        a2.Store(cells + 2 * MaxImages); b2.Store(cells + 2 * MaxImages + H);
        a3.Store(cells + 3 * MaxImages); b3.Store(cells + 3 * MaxImages + H);
        a4.Store(cells + 4 * MaxImages); b4.Store(cells + 4 * MaxImages + H);
        a5.Store(cells + 5 * MaxImages); b5.Store(cells + 5 * MaxImages + H);
        a6.Store(cells + 6 * MaxImages); b6.Store(cells + 6 * MaxImages + H);
        a7.Store(cells + 7 * MaxImages); b7.Store(cells + 7 * MaxImages + H);
    }
}
