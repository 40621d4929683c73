namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Direct convolution from CSR weights one output plane at a time (see <see cref="SparseConv"/> for the form batched
/// across image lanes): work is proportional to the surviving taps, with no im2col. Each input plane is first restaged as
/// zero-padded phase planes, one per (row mod StrideH, column mod StrideW) of the padded plane, each ceil(PH / StrideH) x
/// ceil(PW / StrideW). Output pixel (r, x) of tap (kh, kw) then reads phase ((kh dh) mod sh, (kw dw) mod sw) at row
/// r + (kh dh) / sh and column x + (kw dw) / sw, so the output plane, computed on the phase width (pixel (r, x) at flat index
/// r * PWs + x), is one contiguous multiply-add per tap for every stride; the columns past OutWidth are scratch and are
/// dropped when the plane is written out. With stride 1 there is one phase, the padded plane itself.</summary>
internal static unsafe class SparsePlanes
{
    /// <summary>Floats of restaged input a chunk of images may hold: 256 KB, so a chunk is still in L2 when its segments
    /// read it (a whole batch restaged at once went out to L3 and back).</summary>
    const int ChunkBudget = 64 << 10;
    /// <summary>Most output floats (on the phase width) one task computes per output channel: whole rows, up to three
    /// blocks.</summary>
    const int SegmentFloats = 384;
    /// <summary>Tasks per core a chunk should offer, so that uneven tasks and a core slowed by other work still even out.</summary>
    const int MinTasks = 4;
    const int Lanes = 8;

    /// <summary>Floats that <see cref="Plane"/> computes at once: eight vectors, so that eight independent chains of fused
    /// multiply-adds keep both FMA units busy through each other's latency. A segment is computed in whole blocks (the
    /// floats past its rows are scratch), because a shorter tail would be bound by the latency of fewer chains and cost
    /// as much as a whole block.</summary>
    static readonly int Block = Vector512.IsHardwareAccelerated ? 8 * 2 * Lanes : 4 * Lanes;

    /// <summary>Output rows per segment: the count up to <see cref="SegmentFloats"/> floats whose rounding up to whole
    /// blocks wastes the smallest share (the larger count on ties, for fewer tasks).</summary>
    static int SegmentRows(int outHeight, int pws)
    {
        int best = 1;
        double bestUse = 0;
        for (int r = 1; r <= outHeight && (r == 1 || r * pws <= SegmentFloats); r++)
        {
            double use = (double)(r * pws) / RoundUp(r * pws, Block);
            if (use >= bestUse) (best, bestUse) = (r, use);
        }
        return best;
    }

    static int RoundUp(int n, int multiple) => (n + multiple - 1) / multiple * multiple;

    /// <summary>Floats of one output plane on the phase width: below a few vectors the image-lane form of
    /// <see cref="SparseConv"/> keeps more of each vector busy.</summary>
    public static int PlaneLength(in Conv2dShape s) => s.OutHeight * PhaseWidth(s);

    static int PhaseHeight(in Conv2dShape s) => (s.Height + 2 * s.PadH + s.StrideH - 1) / s.StrideH;

    static int PhaseWidth(in Conv2dShape s) => (s.Width + 2 * s.PadW + s.StrideW - 1) / s.StrideW;

    public static void Forward(in Conv2dShape s, int[] rowStart, int[] columns, float[] values, float[] x, float[]? bias, float[] y)
    {
        var shape = s;
        int pws = PhaseWidth(s), phase = PhaseHeight(s) * pws, planeIn = s.StrideH * s.StrideW * phase;
        int imageIn = s.InChannels * planeIn;
        // The last block of a segment reads up to a block past its rows of the phase width, plus a tap's column shift; the
        // slack keeps the last image's reads inside the buffer.
        int slack = (s.KernelW - 1) * s.DilationW + Block;
        int rows = SegmentRows(s.OutHeight, pws), segments = (s.OutHeight + rows - 1) / rows;
        int nb = Math.Clamp(ChunkBudget / Math.Max(1, imageIn), 1, s.Batch);
        int[] offsets = TapOffsets(s, columns, rowStart[^1]);
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
                        Stage(shape, (float*)ax + ((long)first * shape.InChannels + item) * shape.Height * shape.Width,
                            (float*)aStaged + (long)item * planeIn));
                    // Deep layers fit one image per chunk: their output channels are then split too, so both cores have work.
                    int tasks = count * segments;
                    int blocks = Math.Clamp((MinTasks * Environment.ProcessorCount + tasks - 1) / tasks, 1, Math.Max(1, s.OutChannels / 8));
                    int perBlock = (s.OutChannels + blocks - 1) / blocks;
                    Ranges.Items(tasks * blocks, item =>
                    {
                        int task = item / blocks, o0 = item % blocks * perBlock, i = task / segments, r0 = task % segments * rows;
                        var segment = new Segment((float*)aStaged + (long)i * imageIn, (int*)aStart, (int*)aOff, (float*)av,
                            (float*)ay + (long)(first + i) * shape.OutChannels * shape.OutHeight * shape.OutWidth);
                        segment.Compute(shape, bias, r0, Math.Min(rows, shape.OutHeight - r0), o0, Math.Min(shape.OutChannels, o0 + perBlock),
                            pws, planeIn);
                    });
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(staged); }
    }

    /// <summary>Output rows [r0, r0 + rows) of output channels [o0, o1) of one image. The rows of restaged input they read (of
    /// every input channel) stay in L1 from one output channel to the next, where whole planes would stream from L2 once per
    /// output channel.</summary>
    readonly struct Segment(float* image, int* rowStart, int* offsets, float* values, float* output)
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Compute(in Conv2dShape s, float[]? bias, int r0, int rows, int o0, int o1, int pws, int planeIn)
        {
            int length = RoundUp(rows * pws, Block), plane = s.OutHeight * s.OutWidth;
            float* scratch = stackalloc float[length];
            for (int o = o0; o < o1; o++)
            {
                float* input = image + (long)(o / s.OutChannelsPerGroup) * s.InChannelsPerGroup * planeIn + r0 * pws;
                int t0 = rowStart[o];
                Plane(input, offsets + t0, values + t0, rowStart[o + 1] - t0, scratch, length);
                float b = bias?[o] ?? 0f;
                float* at = output + (long)o * plane + r0 * s.OutWidth;
                for (int r = 0; r < rows; r++) Simd.AddScalar(at + r * s.OutWidth, scratch + r * pws, b, s.OutWidth);
            }
        }
    }

    /// <summary>For each stored tap (column c * KH * KW + kh * KW + kw of its row), where it starts reading in the restaged
    /// input of the group: channel c's phase planes, the phase of (kh dh, kw dw), and the row and column shift within it.</summary>
    static int[] TapOffsets(in Conv2dShape s, int[] columns, int count)
    {
        int pws = PhaseWidth(s), phase = PhaseHeight(s) * pws, planeIn = s.StrideH * s.StrideW * phase, taps = s.KernelH * s.KernelW;
        var offsets = new int[count];
        for (int t = 0; t < count; t++)
        {
            int col = columns[t], c = col / taps, u = col % taps / s.KernelW * s.DilationH, v = col % s.KernelW * s.DilationW;
            offsets[t] = c * planeIn + (u % s.StrideH * s.StrideW + v % s.StrideW) * phase + u / s.StrideH * pws + v / s.StrideW;
        }
        return offsets;
    }

    /// <summary>Restages one H x W input plane as its zero-padded phase planes (the padded plane itself at stride 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Stage(in Conv2dShape s, float* source, float* destination)
    {
        if (s.StrideH == 1 && s.StrideW == 1)
        {
            Im2Col.Pad(s, source, destination);
            return;
        }
        // Locals, not the shape's fields: the stores through dst could alias them, which would reload them per element.
        int phs = PhaseHeight(s), pws = PhaseWidth(s), sh = s.StrideH, sw = s.StrideW, padH = s.PadH, padW = s.PadW;
        int height = s.Height, width = s.Width;
        for (int a = 0; a < sh; a++)
            for (int b = 0; b < sw; b++)
            {
                float* phase = destination + (a * sw + b) * phs * pws;
                // Columns j with 0 <= j * sw + b - padW < width are inside the image; the rest are padding.
                int lo = Math.Min(pws, Math.Max(0, (padW - b + sw - 1) / sw));
                int hi = Math.Clamp((width + padW - b + sw - 1) / sw, lo, pws);
                for (int i = 0; i < phs; i++)
                {
                    int row = i * sh + a - padH;
                    float* dst = phase + i * pws;
                    if (row < 0 || row >= height)
                    {
                        Simd.Zero(dst, pws);
                        continue;
                    }
                    float* src = source + row * width + b - padW;
                    Simd.Zero(dst, lo);
                    if (sw == 2 && hi > lo)
                    {
                        // CopyEven reads one float past its last even element: inside the plane's next row, but on its last
                        // row the last column is copied apart, so no read passes the plane (which may end the caller's array).
                        int whole = row == height - 1 ? hi - lo - 1 : hi - lo;
                        Simd.CopyEven(dst + lo, src + 2 * lo, whole);
                        dst[hi - 1] = src[2 * (hi - 1)];
                    }
                    else
                        for (int j = lo; j < hi; j++) dst[j] = src[j * sw];
                    Simd.Zero(dst + hi, pws - hi);
                }
            }
    }

    /// <summary>plane[q] = sum over taps of value * input[offset + q] for q in [0, length), length a multiple of
    /// <see cref="Block"/>, each sum in tap order whatever the vector width, so every machine gives the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Plane(float* input, int* offsets, float* values, int taps, float* plane, int length)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Wide(input, offsets, values, taps, plane, length);
            return;
        }
        for (int q = 0; q < length; q += 4 * Lanes)
        {
            // Unrolled register tile: four independent accumulators hide the latency of the fused multiply-adds.
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
    }

    /// <summary><see cref="Plane"/> in blocks of eight 512-bit accumulators (32 registers allow it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Wide(float* input, int* offsets, float* values, int taps, float* plane, int length)
    {
        const int W = 2 * Lanes;
        for (int q = 0; q < length; q += 8 * W)
        {
            // Unrolled register tile: the accumulators stay in ZMM registers across the taps only as named locals.
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default,
                a7 = default;
            for (int t = 0; t < taps; t++)
            {
                var v = Vector512.Create(values[t]);
                float* src = input + offsets[t] + q;
                a0 = Vector512.FusedMultiplyAdd(v, Vector512.Load(src), a0);
                a1 = Vector512.FusedMultiplyAdd(v, Vector512.Load(src + W), a1);
                a2 = Vector512.FusedMultiplyAdd(v, Vector512.Load(src + 2 * W), a2);
                a3 = Vector512.FusedMultiplyAdd(v, Vector512.Load(src + 3 * W), a3);
                a4 = Vector512.FusedMultiplyAdd(v, Vector512.Load(src + 4 * W), a4);
                a5 = Vector512.FusedMultiplyAdd(v, Vector512.Load(src + 5 * W), a5);
                a6 = Vector512.FusedMultiplyAdd(v, Vector512.Load(src + 6 * W), a6);
                a7 = Vector512.FusedMultiplyAdd(v, Vector512.Load(src + 7 * W), a7);
            }
            a0.Store(plane + q);
            a1.Store(plane + q + W);
            a2.Store(plane + q + 2 * W);
            a3.Store(plane + q + 3 * W);
            a4.Store(plane + q + 4 * W);
            a5.Store(plane + q + 5 * W);
            a6.Store(plane + q + 6 * W);
            a7.Store(plane + q + 7 * W);
        }
    }
}
