namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The inner loops of <see cref="SparseConv"/>: a few neighbouring output pixels of one row, each a cell of 32 image
/// lanes, add a run of taps to what their cells already hold. Cells are read at the start and written at the end, so a
/// pixel's taps can be split into several runs (by input channel block) that each stay in cache.</summary>
internal static unsafe class SparseTaps
{
    const int Lanes = 8, Cell = 4 * Lanes;

    /// <summary>cells[x] += sum over taps of value * at[x * next + offset] for x in [0, width).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Row(float* at, int* offsets, float* values, int taps, int next, float* cells, int width)
    {
        int x = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; x + 7 < width; x += 8) EightPixels(at + (long)x * next, offsets, values, taps, next, cells + x * Cell);
        for (; x + 1 < width; x += 2) TwoPixels(at + (long)x * next, offsets, values, taps, next, cells + x * Cell);
        if (x < width) OnePixel(at + (long)x * next, offsets, values, taps, cells + x * Cell);
    }

    /// <summary>Two pixels at a time: eight independent accumulators keep both FMA pipes busy through each other's latency.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void TwoPixels(float* at, int* offsets, float* values, int taps, int next, float* cells)
    {
        // Unrolled register tile: the accumulators stay in YMM registers across the taps only as named locals.
        Vector256<float> a0 = Vector256.Load(cells), a1 = Vector256.Load(cells + Lanes), a2 = Vector256.Load(cells + 2 * Lanes),
            a3 = Vector256.Load(cells + 3 * Lanes);
        float* other = cells + Cell;
        Vector256<float> c0 = Vector256.Load(other), c1 = Vector256.Load(other + Lanes), c2 = Vector256.Load(other + 2 * Lanes),
            c3 = Vector256.Load(other + 3 * Lanes);
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
        Store(cells, a0, a1, a2, a3);
        Store(other, c0, c1, c2, c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void OnePixel(float* at, int* offsets, float* values, int taps, float* cells)
    {
        // Unrolled register tile: the accumulators stay in YMM registers across the taps only as named locals.
        Vector256<float> a0 = Vector256.Load(cells), a1 = Vector256.Load(cells + Lanes), a2 = Vector256.Load(cells + 2 * Lanes),
            a3 = Vector256.Load(cells + 3 * Lanes);
        for (int t = 0; t < taps; t++)
        {
            var v = Vector256.Create(values[t]);
            float* q = at + offsets[t];
            a0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q), a0);
            a1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + Lanes), a1);
            a2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + 2 * Lanes), a2);
            a3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(q + 3 * Lanes), a3);
        }
        Store(cells, a0, a1, a2, a3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* cell, Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
    {
        a0.Store(cell);
        a1.Store(cell + Lanes);
        a2.Store(cell + 2 * Lanes);
        a3.Store(cell + 3 * Lanes);
    }

    /// <summary>Eight neighbouring pixels in sixteen 512-bit accumulators (32 registers allow it): each tap then reads one
    /// contiguous kilobyte, which neighbouring taps (the next kw) largely reread from L1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void EightPixels(float* at, int* offsets, float* values, int taps, int next, float* cells)
    {
        const int H = 2 * Lanes;
        // Unrolled register tile: 16 ZMM accumulators stay in registers across the taps only as named locals.
        Vector512<float> a0 = Vector512.Load(cells), b0 = Vector512.Load(cells + H), a1 = Vector512.Load(cells + Cell),
            b1 = Vector512.Load(cells + Cell + H), a2 = Vector512.Load(cells + 2 * Cell), b2 = Vector512.Load(cells + 2 * Cell + H),
            a3 = Vector512.Load(cells + 3 * Cell), b3 = Vector512.Load(cells + 3 * Cell + H), a4 = Vector512.Load(cells + 4 * Cell),
            b4 = Vector512.Load(cells + 4 * Cell + H), a5 = Vector512.Load(cells + 5 * Cell), b5 = Vector512.Load(cells + 5 * Cell + H),
            a6 = Vector512.Load(cells + 6 * Cell), b6 = Vector512.Load(cells + 6 * Cell + H), a7 = Vector512.Load(cells + 7 * Cell),
            b7 = Vector512.Load(cells + 7 * Cell + H);
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
        a1.Store(cells + Cell); b1.Store(cells + Cell + H);
        a2.Store(cells + 2 * Cell); b2.Store(cells + 2 * Cell + H);
        a3.Store(cells + 3 * Cell); b3.Store(cells + 3 * Cell + H);
        a4.Store(cells + 4 * Cell); b4.Store(cells + 4 * Cell + H);
        a5.Store(cells + 5 * Cell); b5.Store(cells + 5 * Cell + H);
        a6.Store(cells + 6 * Cell); b6.Store(cells + 6 * Cell + H);
        a7.Store(cells + 7 * Cell); b7.Store(cells + 7 * Cell + H);
    }
}
