namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The inner loops of <see cref="SparseConv"/>: a few neighbouring output pixels of one row, each a cell of 32 image
/// lanes (or 16, one 512-bit vector: <see cref="Row16"/>), add a run of taps to what their cells already hold. Cells are
/// read at the start and written at the end, so a pixel's taps can be split into several runs (by input channel block)
/// that each stay in cache.</summary>
internal static unsafe class SparseTaps
{
    const int Lanes = 8, Cell = 4 * Lanes, Cell16 = 2 * Lanes;

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

    /// <summary><see cref="Row"/> on cells of 16 image lanes, one 512-bit vector each, so every load of a tap is one aligned
    /// cache line (the plane form's loads mostly straddle two) and a tap costs one broadcast for up to 16 pixels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Row16(float* at, int* offsets, float* values, int taps, int next, float* cells, int width)
    {
        int x = 0;
        for (; x + 15 < width; x += 16) SixteenCells(at + (long)x * next, offsets, values, taps, next, cells + x * Cell16);
        for (; x + 7 < width; x += 8) EightCells(at + (long)x * next, offsets, values, taps, next, cells + x * Cell16);
        for (; x + 3 < width; x += 4) FourCells(at + (long)x * next, offsets, values, taps, next, cells + x * Cell16);
        for (; x < width; x++) OneCell(at + (long)x * next, offsets, values, taps, cells + x * Cell16);
    }

    /// <summary>Sixteen pixels in sixteen 512-bit accumulators: each tap reads one contiguous kilobyte (at stride 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void SixteenCells(float* at, int* offsets, float* values, int taps, int next, float* cells)
    {
        const int C = Cell16;
        // Unrolled register tile: 16 ZMM accumulators stay in registers across the taps only as named locals.
        Vector512<float> a0 = Vector512.Load(cells), a1 = Vector512.Load(cells + C), a2 = Vector512.Load(cells + 2 * C),
            a3 = Vector512.Load(cells + 3 * C), a4 = Vector512.Load(cells + 4 * C), a5 = Vector512.Load(cells + 5 * C),
            a6 = Vector512.Load(cells + 6 * C), a7 = Vector512.Load(cells + 7 * C), a8 = Vector512.Load(cells + 8 * C),
            a9 = Vector512.Load(cells + 9 * C), a10 = Vector512.Load(cells + 10 * C), a11 = Vector512.Load(cells + 11 * C),
            a12 = Vector512.Load(cells + 12 * C), a13 = Vector512.Load(cells + 13 * C), a14 = Vector512.Load(cells + 14 * C),
            a15 = Vector512.Load(cells + 15 * C);
        for (int t = 0; t < taps; t++)
        {
            var v = Vector512.Create(values[t]);
            float* q = at + offsets[t];
            a0 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a0);
            a1 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + next), a1);
            a2 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + 2 * next), a2);
            a3 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + 3 * next), a3);
            q += 4 * next;
            a4 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a4);
            a5 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + next), a5);
            a6 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + 2 * next), a6);
            a7 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + 3 * next), a7);
            q += 4 * next;
            a8 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a8);
            a9 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + next), a9);
            a10 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + 2 * next), a10);
            a11 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + 3 * next), a11);
            q += 4 * next;
            a12 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a12);
            a13 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + next), a13);
            a14 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + 2 * next), a14);
            a15 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + 3 * next), a15);
        }
        a0.Store(cells); a1.Store(cells + C); a2.Store(cells + 2 * C); a3.Store(cells + 3 * C);
        a4.Store(cells + 4 * C); a5.Store(cells + 5 * C); a6.Store(cells + 6 * C); a7.Store(cells + 7 * C);
        a8.Store(cells + 8 * C); a9.Store(cells + 9 * C); a10.Store(cells + 10 * C); a11.Store(cells + 11 * C);
        a12.Store(cells + 12 * C); a13.Store(cells + 13 * C); a14.Store(cells + 14 * C); a15.Store(cells + 15 * C);
    }

    /// <summary>Eight pixels in eight accumulators: enough independent chains for both FMA pipes on 8-wide rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void EightCells(float* at, int* offsets, float* values, int taps, int next, float* cells)
    {
        const int C = Cell16;
        // Unrolled register tile: the accumulators stay in ZMM registers across the taps only as named locals.
        Vector512<float> a0 = Vector512.Load(cells), a1 = Vector512.Load(cells + C), a2 = Vector512.Load(cells + 2 * C),
            a3 = Vector512.Load(cells + 3 * C), a4 = Vector512.Load(cells + 4 * C), a5 = Vector512.Load(cells + 5 * C),
            a6 = Vector512.Load(cells + 6 * C), a7 = Vector512.Load(cells + 7 * C);
        for (int t = 0; t < taps; t++)
        {
            var v = Vector512.Create(values[t]);
            float* q = at + offsets[t];
            a0 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a0);
            a1 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + next), a1);
            a2 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + 2 * next), a2);
            a3 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + 3 * next), a3);
            q += 4 * next;
            a4 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a4);
            a5 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + next), a5);
            a6 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + 2 * next), a6);
            a7 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + 3 * next), a7);
        }
        a0.Store(cells); a1.Store(cells + C); a2.Store(cells + 2 * C); a3.Store(cells + 3 * C);
        a4.Store(cells + 4 * C); a5.Store(cells + 5 * C); a6.Store(cells + 6 * C); a7.Store(cells + 7 * C);
    }

    /// <summary>Four pixels (4 x 4 planes and row tails): four chains, half of what hides the FMA latency, but a quarter of
    /// what one cell at a time would leave.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void FourCells(float* at, int* offsets, float* values, int taps, int next, float* cells)
    {
        const int C = Cell16;
        // Unrolled register tile: the accumulators stay in ZMM registers across the taps only as named locals.
        Vector512<float> a0 = Vector512.Load(cells), a1 = Vector512.Load(cells + C), a2 = Vector512.Load(cells + 2 * C),
            a3 = Vector512.Load(cells + 3 * C);
        for (int t = 0; t < taps; t++)
        {
            var v = Vector512.Create(values[t]);
            float* q = at + offsets[t];
            a0 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q), a0);
            a1 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + next), a1);
            a2 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + 2 * next), a2);
            a3 = Vector512.FusedMultiplyAdd(v, Vector512.Load(q + 3 * next), a3);
        }
        a0.Store(cells); a1.Store(cells + C); a2.Store(cells + 2 * C); a3.Store(cells + 3 * C);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void OneCell(float* at, int* offsets, float* values, int taps, float* cells)
    {
        var a = Vector512.Load(cells);
        for (int t = 0; t < taps; t++) a = Vector512.FusedMultiplyAdd(Vector512.Create(values[t]), Vector512.Load(at + offsets[t]), a);
        a.Store(cells);
    }
}
