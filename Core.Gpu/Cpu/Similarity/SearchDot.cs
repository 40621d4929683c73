namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The dot-product kernels of the Cpu search, over rows of <see cref="SearchStorage"/> layout (aligned, zero
/// padded to whole vectors of 16 floats). Both kernels keep one 16-lane accumulator per (query, row) pair, restart it for
/// each <see cref="Depth"/>-float slice of the dimension and add it to a running 16-lane partial, then sum the 16 lanes
/// once: the same additions in the same order whichever kernel runs, so a query's scores, and so its hits, do not depend
/// on how many queries were searched with it. Vector512 throughout: AVX-512 where the processor has it, two AVX2 halves
/// (the same lanes, the same fused multiply-adds) where it does not.</summary>
internal static unsafe class SearchDot
{
    /// <summary>Floats of each row and query scored per slice: 4 queries and 6 rows of 512 floats are 20 KB, inside a
    /// core's L1 data cache, while the tile kernel runs over them.</summary>
    public const int Depth = 512;

    /// <summary>Queries per tile of <see cref="Tile"/>.</summary>
    public const int TileQueries = 4;

    /// <summary>Rows per tile of <see cref="Tile"/>: 4 x 6 accumulators, 6 row vectors and a query vector fill 31 of the
    /// 32 vector registers, and each step's 10 loads feed 24 multiply-adds (compute-bound, not load-bound).</summary>
    public const int TileRows = 6;

    /// <summary>The scores of one query against four consecutive rows (<paramref name="stride"/> floats apart, stride a
    /// multiple of 16) into <paramref name="scores"/>[0..4). Streams the rows once; the query stays in L1.</summary>
    public static void Four(float* query, float* rows, int stride, float* scores)
    {
        // Unrolled register tile: four independent chains hide the FMA latency, and named Vector512 locals stay in registers.
        var p0 = Vector512<float>.Zero;
        var p1 = p0;
        var p2 = p0;
        var p3 = p0;
        float* r1 = rows + stride, r2 = r1 + stride, r3 = r2 + stride;
        for (int k0 = 0; k0 < stride; k0 += Depth)
        {
            int end = Math.Min(stride, k0 + Depth);
            var a0 = Vector512<float>.Zero;
            var a1 = a0;
            var a2 = a0;
            var a3 = a0;
            for (int j = k0; j < end; j += SearchStorage.Lane)
            {
                var x = Vector512.LoadAligned(query + j);
                a0 = Vector512.FusedMultiplyAdd(x, Vector512.LoadAligned(rows + j), a0);
                a1 = Vector512.FusedMultiplyAdd(x, Vector512.LoadAligned(r1 + j), a1);
                a2 = Vector512.FusedMultiplyAdd(x, Vector512.LoadAligned(r2 + j), a2);
                a3 = Vector512.FusedMultiplyAdd(x, Vector512.LoadAligned(r3 + j), a3);
            }
            p0 += a0;
            p1 += a1;
            p2 += a2;
            p3 += a3;
        }
        scores[0] = Vector512.Sum(p0);
        scores[1] = Vector512.Sum(p1);
        scores[2] = Vector512.Sum(p2);
        scores[3] = Vector512.Sum(p3);
    }

    /// <summary>The score of one query against one row (the rows after the last whole group of four).</summary>
    public static float One(float* query, float* row, int stride)
    {
        var p = Vector512<float>.Zero;
        for (int k0 = 0; k0 < stride; k0 += Depth)
        {
            int end = Math.Min(stride, k0 + Depth);
            var a = Vector512<float>.Zero;
            for (int j = k0; j < end; j += SearchStorage.Lane)
                a = Vector512.FusedMultiplyAdd(Vector512.LoadAligned(query + j), Vector512.LoadAligned(row + j), a);
            p += a;
        }
        return Vector512.Sum(p);
    }

    /// <summary>One slice of <paramref name="depth"/> floats of 4 queries (<paramref name="queryStride"/> apart) against 6
    /// rows (given one by one, so that a short last tile repeats a valid row), added to the 24 running partials at
    /// <paramref name="partials"/>, query-major (query i, row r at (6 i + r) x 16).</summary>
    public static void Tile(float* query, int queryStride, float* r0, float* r1, float* r2, float* r3, float* r4, float* r5,
        int depth, float* partials)
    {
        // Unrolled register tile: the JIT keeps 24 named Vector512 accumulators in registers but spills any array of them.
        var c00 = Vector512<float>.Zero;
        var (c01, c02, c03, c04, c05) = (c00, c00, c00, c00, c00);
        var (c10, c11, c12, c13, c14, c15) = (c00, c00, c00, c00, c00, c00);
        var (c20, c21, c22, c23, c24, c25) = (c00, c00, c00, c00, c00, c00);
        var (c30, c31, c32, c33, c34, c35) = (c00, c00, c00, c00, c00, c00);
        float* q1 = query + queryStride, q2 = q1 + queryStride, q3 = q2 + queryStride;
        for (int j = 0; j < depth; j += SearchStorage.Lane)
        {
            var e0 = Vector512.LoadAligned(r0 + j);
            var e1 = Vector512.LoadAligned(r1 + j);
            var e2 = Vector512.LoadAligned(r2 + j);
            var e3 = Vector512.LoadAligned(r3 + j);
            var e4 = Vector512.LoadAligned(r4 + j);
            var e5 = Vector512.LoadAligned(r5 + j);
            var x = Vector512.LoadAligned(query + j);
            c00 = Vector512.FusedMultiplyAdd(x, e0, c00);
            c01 = Vector512.FusedMultiplyAdd(x, e1, c01);
            c02 = Vector512.FusedMultiplyAdd(x, e2, c02);
            c03 = Vector512.FusedMultiplyAdd(x, e3, c03);
            c04 = Vector512.FusedMultiplyAdd(x, e4, c04);
            c05 = Vector512.FusedMultiplyAdd(x, e5, c05);
            x = Vector512.LoadAligned(q1 + j);
            c10 = Vector512.FusedMultiplyAdd(x, e0, c10);
            c11 = Vector512.FusedMultiplyAdd(x, e1, c11);
            c12 = Vector512.FusedMultiplyAdd(x, e2, c12);
            c13 = Vector512.FusedMultiplyAdd(x, e3, c13);
            c14 = Vector512.FusedMultiplyAdd(x, e4, c14);
            c15 = Vector512.FusedMultiplyAdd(x, e5, c15);
            x = Vector512.LoadAligned(q2 + j);
            c20 = Vector512.FusedMultiplyAdd(x, e0, c20);
            c21 = Vector512.FusedMultiplyAdd(x, e1, c21);
            c22 = Vector512.FusedMultiplyAdd(x, e2, c22);
            c23 = Vector512.FusedMultiplyAdd(x, e3, c23);
            c24 = Vector512.FusedMultiplyAdd(x, e4, c24);
            c25 = Vector512.FusedMultiplyAdd(x, e5, c25);
            x = Vector512.LoadAligned(q3 + j);
            c30 = Vector512.FusedMultiplyAdd(x, e0, c30);
            c31 = Vector512.FusedMultiplyAdd(x, e1, c31);
            c32 = Vector512.FusedMultiplyAdd(x, e2, c32);
            c33 = Vector512.FusedMultiplyAdd(x, e3, c33);
            c34 = Vector512.FusedMultiplyAdd(x, e4, c34);
            c35 = Vector512.FusedMultiplyAdd(x, e5, c35);
        }
        Add(partials, 0, c00, c01, c02, c03, c04, c05);
        Add(partials, 6, c10, c11, c12, c13, c14, c15);
        Add(partials, 12, c20, c21, c22, c23, c24, c25);
        Add(partials, 18, c30, c31, c32, c33, c34, c35);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Add(float* partials, int first, Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d,
        Vector512<float> e, Vector512<float> f)
    {
        float* p = partials + first * SearchStorage.Lane;
        (Vector512.LoadAligned(p) + a).StoreAligned(p);
        (Vector512.LoadAligned(p + 16) + b).StoreAligned(p + 16);
        (Vector512.LoadAligned(p + 32) + c).StoreAligned(p + 32);
        (Vector512.LoadAligned(p + 48) + d).StoreAligned(p + 48);
        (Vector512.LoadAligned(p + 64) + e).StoreAligned(p + 64);
        (Vector512.LoadAligned(p + 80) + f).StoreAligned(p + 80);
    }

    /// <summary>The sum of <paramref name="count"/> floats (a multiple of 16, 64-byte aligned): a pure streaming read, the
    /// bound a one-query scan of the same bytes can reach.</summary>
    public static double Sum(float* values, long count)
    {
        var a0 = Vector512<float>.Zero;
        var (a1, a2, a3) = (a0, a0, a0);
        long i = 0;
        for (; i + 64 <= count; i += 64)
        {
            a0 += Vector512.LoadAligned(values + i);
            a1 += Vector512.LoadAligned(values + i + 16);
            a2 += Vector512.LoadAligned(values + i + 32);
            a3 += Vector512.LoadAligned(values + i + 48);
        }
        for (; i < count; i += 16) a0 += Vector512.LoadAligned(values + i);
        return Vector512.Sum((a0 + a1) + (a2 + a3));
    }
}
