namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Direct convolution from CSR weights on output planes (see <see cref="SparseConv"/> for the form batched across image
/// lanes): work is proportional to the surviving taps, with no im2col. A chunk of images is stacked into one tall plane per
/// input channel and phase, so each tap is one multiply-add across the chunk's images. Each input plane is first restaged as
/// zero-padded phase planes, one per (row mod StrideH, column mod StrideW) of the padded plane, each ceil(PH / StrideH) x
/// ceil(PW / StrideW). Output pixel (r, x) of tap (kh, kw) then reads phase ((kh dh) mod sh, (kw dw) mod sw) at row
/// r + (kh dh) / sh and column x + (kw dw) / sw, so the output plane, computed on the phase width (pixel (r, x) at flat index
/// r * PWs + x), is one contiguous multiply-add per tap for every stride; the columns past OutWidth are scratch and are
/// dropped when the plane is written out. With stride 1 there is one phase, the padded plane itself.</summary>
internal static unsafe class SparsePlanes
{
    /// <summary>Floats of restaged input a chunk of images may hold: 512 KB, so a task's chunk is still in its core's L2
    /// when its segments read it (a whole batch restaged at once went out to L3 and back).</summary>
    const int ChunkBudget = 128 << 10;
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
        int pws = PhaseWidth(s), phs = PhaseHeight(s), phase = phs * pws, imageIn = s.InChannels * s.StrideH * s.StrideW * phase;
        // The last block of a segment reads up to a block past its rows of the phase width, plus a tap's column shift; the
        // slack keeps the last chunk's reads inside its buffer.
        int slack = (s.KernelW - 1) * s.DilationW + Block;
        // A chunk of images per task, staged by the task itself: one parallel loop per layer, where a stage-then-compute
        // pair of loops per chunk cost two joins of both cores each. Only with fewer chunks than cores are output channels
        // split too, each block restaging its chunk (a copy of the input, a few percent of the taps' work each time).
        int cores = Environment.ProcessorCount, wanted = MinTasks * cores;
        int nb = Math.Clamp(Math.Min(ChunkBudget / Math.Max(1, imageIn), (s.Batch + wanted - 1) / wanted), 1, s.Batch);
        int chunks = (s.Batch + nb - 1) / nb, last = s.Batch - (chunks - 1) * nb;
        int blocks = chunks >= cores ? 1 : Math.Clamp((wanted + chunks - 1) / chunks, 1, Math.Max(1, s.OutChannels / 8));
        int perBlock = (s.OutChannels + blocks - 1) / blocks;
        int[] offsets = TapOffsets(s, columns, rowStart[^1], nb * phase);
        int[] lastOffsets = last == nb ? offsets : TapOffsets(s, columns, rowStart[^1], last * phase);
        fixed (float* px = x, py = y, pv = values)
        fixed (int* pOff = offsets, pLast = lastOffsets, pStart = rowStart)
        {
            var (ax, ay, av, aOff, aLast, aStart) = ((nint)px, (nint)py, (nint)pv, (nint)pOff, (nint)pLast, (nint)pStart);
            Ranges.Items(chunks * blocks, item =>
            {
                int chunk = item / blocks, o0 = item % blocks * perBlock, first = chunk * nb, count = Math.Min(nb, shape.Batch - first);
                float[] staged = ArrayPool<float>.Shared.Rent(count * imageIn + slack);
                try
                {
                    fixed (float* pStaged = staged)
                    {
                        StageChunk(shape, (float*)ax, first, count, pStaged, phase);
                        Simd.Zero(pStaged + count * imageIn, slack);
                        var segment = new Segment(pStaged, (int*)aStart, count == nb ? (int*)aOff : (int*)aLast, (float*)av, (float*)ay, first);
                        segment.Compute(shape, bias, count, o0, Math.Min(shape.OutChannels, o0 + perBlock), pws, phs);
                    }
                }
                finally { ArrayPool<float>.Shared.Return(staged); }
            });
        }
    }

    /// <summary>Restages images [first, first + count) in the stacked layout: for each input channel and stride phase, the
    /// phase planes of the chunk's images one below the other, <paramref name="phase"/> floats apart. A tap then reads one
    /// contiguous run across the whole chunk, so small planes still fill whole vectors.</summary>
    static void StageChunk(in Conv2dShape s, float* x, int first, int count, float* staged, int phase)
    {
        int phases = s.StrideH * s.StrideW, size = s.Height * s.Width;
        for (int c = 0; c < s.InChannels; c++)
            for (int n = 0; n < count; n++)
                Stage(s, x + ((long)(first + n) * s.InChannels + c) * size, staged + (long)c * phases * count * phase + n * phase,
                    count * phase);
    }

    /// <summary>The stacked phase planes of a chunk as one tall image of count * PHs rows (the rows between one image's last
    /// output row and the next image's first are scratch): rows [r0, r0 + rows) of output channels [o0, o1) at a time. The
    /// rows of restaged input a segment reads (of every input channel) stay in L1 or L2 from one output channel to the
    /// next, where whole planes would stream from further out once per output channel.</summary>
    readonly struct Segment(float* staged, int* rowStart, int* offsets, float* values, float* output, int first)
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Compute(in Conv2dShape s, float[]? bias, int count, int o0, int o1, int pws, int phs)
        {
            int tall = (count - 1) * phs + s.OutHeight, rows = SegmentRows(tall, pws), plane = s.OutHeight * s.OutWidth;
            int groupIn = s.InChannelsPerGroup * s.StrideH * s.StrideW * count * phs * pws;
            long image = (long)s.OutChannels * plane;
            float* scratch = stackalloc float[RoundUp(rows * pws, Block)];
            for (int r0 = 0; r0 < tall; r0 += rows)
            {
                int n = Math.Min(rows, tall - r0), length = RoundUp(n * pws, Block);
                for (int o = o0; o < o1; o++)
                {
                    int t0 = rowStart[o];
                    Plane(staged + (long)(o / s.OutChannelsPerGroup) * groupIn + r0 * pws, offsets + t0, values + t0,
                        rowStart[o + 1] - t0, scratch, length);
                    float b = bias?[o] ?? 0f;
                    float* at = output + (long)first * image + (long)o * plane;
                    for (int r = r0; r < r0 + n; r++)
                    {
                        int i = r / phs, row = r - i * phs;
                        if (row < s.OutHeight) Simd.AddScalar(at + i * image + row * s.OutWidth, scratch + (r - r0) * pws, b, s.OutWidth);
                    }
                }
            }
        }
    }

    /// <summary>For each stored tap (column c * KH * KW + kh * KW + kw of its row), where it starts reading in the restaged
    /// chunk of the group: channel c's stacked phase planes (each <paramref name="phase"/> floats), the phase of
    /// (kh dh, kw dw), and the row and column shift within it.</summary>
    static int[] TapOffsets(in Conv2dShape s, int[] columns, int count, int phase)
    {
        int pws = PhaseWidth(s), planeIn = s.StrideH * s.StrideW * phase, taps = s.KernelH * s.KernelW;
        var offsets = new int[count];
        for (int t = 0; t < count; t++)
        {
            int col = columns[t], c = col / taps, u = col % taps / s.KernelW * s.DilationH, v = col % s.KernelW * s.DilationW;
            offsets[t] = c * planeIn + (u % s.StrideH * s.StrideW + v % s.StrideW) * phase + u / s.StrideH * pws + v / s.StrideW;
        }
        return offsets;
    }

    /// <summary>Restages one H x W input plane as its zero-padded phase planes (the padded plane itself at stride 1), phase
    /// plane p at <paramref name="destination"/> + p * <paramref name="phaseStride"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Stage(in Conv2dShape s, float* source, float* destination, int phaseStride)
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
                float* phase = destination + (a * sw + b) * phaseStride;
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
