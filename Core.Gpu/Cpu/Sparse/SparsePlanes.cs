namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Direct convolution from CSR weights for small batches (see <see cref="SparseConv"/> for the batched form), one output
/// plane at a time: work is proportional to the surviving taps, with no im2col. Input images are
/// first copied into zero-padded planes, so every tap reads inside the buffer and no boundary tests remain. With stride 1 an
/// output plane is computed on the padded width (row r, column x at flat index r * PW + x), which makes each tap one contiguous
/// multiply-add over the whole plane; the columns past OutWidth are scratch and are dropped when the plane is written out.</summary>
internal static unsafe class SparsePlanes
{
    /// <summary>Floats of padded input a chunk of images may hold: 16 MB.</summary>
    const int ChunkBudget = 4 << 20;
    const int Lanes = 8;

    public static void Forward(in Conv2dShape s, int[] rowStart, int[] columns, float[] values, float[] x, float[]? bias, float[] y)
    {
        var shape = s;
        int pw = s.Width + 2 * s.PadW, planeIn = (s.Height + 2 * s.PadH) * pw, imageIn = s.InChannels * planeIn;
        int oh = s.OutHeight, ow = s.OutWidth;
        // Stride 1 reads up to a row's worth of padded width plus one vector past a plane's last valid input; the slack keeps
        // the last image's reads inside the buffer.
        int slack = (s.KernelW - 1) * s.DilationW + 2 * Lanes;
        int wide = (oh * pw + Lanes - 1) / Lanes * Lanes;
        int nb = Math.Clamp(ChunkBudget / Math.Max(1, imageIn), 1, s.Batch);
        int[] offsets = SparseConv.TapOffsets(s, columns, rowStart[^1], 1);
        float[] staged = ArrayPool<float>.Shared.Rent(nb * imageIn + slack);
        try
        {
            fixed (float* pStaged = staged, px = x, py = y, pv = values)
            fixed (int* pOff = offsets, pStart = rowStart)
            {
                var (aStaged, ax, ay, av, aOff, aStart) = ((nint)pStaged, (nint)px, (nint)py, (nint)pv, (nint)pOff, (nint)pStart);
                Simd.Zero(pStaged + nb * imageIn, slack);
                for (int n0 = 0; n0 < s.Batch; n0 += nb)
                {
                    int count = Math.Min(nb, s.Batch - n0), first = n0;
                    Ranges.Items(count * s.InChannels, item =>
                        Im2Col.Pad(shape, (float*)ax + ((long)first * shape.InChannels + item) * shape.Height * shape.Width, (float*)aStaged + (long)item * planeIn));
                    Parallel.For(0, count * s.OutChannels, () => ArrayPool<float>.Shared.Rent(wide), (item, _, scratch) =>
                    {
                        int i = item / shape.OutChannels, o = item % shape.OutChannels;
                        float* input = (float*)aStaged + (long)i * imageIn + (long)(o / shape.OutChannelsPerGroup) * shape.InChannelsPerGroup * planeIn;
                        float* output = (float*)ay + ((long)(first + i) * shape.OutChannels + o) * oh * ow;
                        int t0 = ((int*)aStart)[o], taps = ((int*)aStart)[o + 1] - t0;
                        float b = bias?[o] ?? 0f;
                        if (shape.StrideH == 1 && shape.StrideW == 1)
                            fixed (float* pScratch = scratch)
                            {
                                Plane(input, (int*)aOff + t0, (float*)av + t0, taps, pScratch, wide);
                                for (int r = 0; r < oh; r++)
                                    Simd.AddScalar(output + r * ow, pScratch + r * pw, b, ow);
                            }
                        else
                            Strided(shape, input, (int*)aOff + t0, (float*)av + t0, taps, b, output, pw);
                        return scratch;
                    }, scratch => ArrayPool<float>.Shared.Return(scratch));
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(staged); }
    }

    /// <summary>plane[q] = sum over taps of value * input[offset + q] for q in [0, length), length a multiple of 8; four
    /// independent accumulators per step hide the latency of the fused multiply-adds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Plane(float* input, int* offsets, float* values, int taps, float* plane, int length)
    {
        int q = 0;
        for (; q + 4 * Lanes <= length; q += 4 * Lanes)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int t = 0; t < taps; t++)
            {
                var v = Vector256.Create(values[t]);
                float* src = input + offsets[t] + q;
                a0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(src), a0);
                a1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(src + Lanes), a1);
                a2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(src + 2 * Lanes), a2);
                a3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(src + 3 * Lanes), a3);
            }
            a0.Store(plane + q);
            a1.Store(plane + q + Lanes);
            a2.Store(plane + q + 2 * Lanes);
            a3.Store(plane + q + 3 * Lanes);
        }
        for (; q < length; q += Lanes)
        {
            Vector256<float> a = default;
            for (int t = 0; t < taps; t++) a = Vector256.FusedMultiplyAdd(Vector256.Create(values[t]), Vector256.Load(input + offsets[t] + q), a);
            a.Store(plane + q);
        }
    }

    /// <summary>Any stride: each output pixel sums its taps at (r * StrideH, x * StrideW) of the padded input.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Strided(in Conv2dShape s, float* input, int* offsets, float* values, int taps, float bias, float* output, int pw)
    {
        int oh = s.OutHeight, ow = s.OutWidth;
        for (int r = 0; r < oh; r++)
        {
            float* row = input + r * s.StrideH * pw;
            for (int x = 0; x < ow; x++)
            {
                float* at = row + x * s.StrideW;
                float sum = bias;
                for (int t = 0; t < taps; t++) sum += values[t] * at[offsets[t]];
                output[r * ow + x] = sum;
            }
        }
    }
}
