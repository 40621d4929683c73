using System.Runtime.Intrinsics.X86;

namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Integer dot products of unsigned query bytes with signed row bytes (<see cref="QuantisedRows"/> layout: whole
/// 64-byte vectors, zero padded), exact in int32. .NET 10 exposes no AVX-512 VNNI (vpdpbusd) on processors without
/// AVX10, so each 64-byte step is AVX-512BW's vpmaddubsw (byte pairs to 16-bit sums), vpmaddwd by ones (to 32-bit) and an
/// add: 64 multiply-adds in three instructions against 16 per fused multiply-add in float32, on a quarter of the bytes.
/// Callers check <see cref="Avx512BW.IsSupported"/>.</summary>
internal static unsafe class SearchDotInt8
{
    /// <summary>Queries per tile of <see cref="Tile"/>.</summary>
    public const int TileQueries = 4;

    /// <summary>Rows per tile of <see cref="Tile"/>: 4 x 5 accumulators, 5 row vectors, a query vector and the ones vector
    /// take 27 of the 32 vector registers, and the 5 rows' 25 KB stay in L1 while every query tile passes over them.</summary>
    public const int TileRows = 5;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Step(Vector512<byte> query, Vector512<sbyte> row, Vector512<short> ones, Vector512<int> sum) =>
        Avx512F.Add(sum, Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(query, row), ones));

    /// <summary>The raw sums of one query against four consecutive rows (<paramref name="stride"/> bytes apart) into
    /// <paramref name="sums"/>[0..4). Streams the rows once; the query stays in L1.</summary>
    public static void Four(byte* query, sbyte* rows, int stride, int* sums)
    {
        // Unrolled register tile: the JIT keeps named Vector512 locals in registers but spills any array of them.
        var ones = Vector512<short>.One;
        var a0 = Vector512<int>.Zero;
        var (a1, a2, a3) = (a0, a0, a0);
        sbyte* r1 = rows + stride, r2 = r1 + stride, r3 = r2 + stride;
        for (int j = 0; j < stride; j += QuantisedRows.Lane)
        {
            var x = Vector512.LoadAligned(query + j);
            a0 = Step(x, Vector512.LoadAligned(rows + j), ones, a0);
            a1 = Step(x, Vector512.LoadAligned(r1 + j), ones, a1);
            a2 = Step(x, Vector512.LoadAligned(r2 + j), ones, a2);
            a3 = Step(x, Vector512.LoadAligned(r3 + j), ones, a3);
        }
        sums[0] = Vector512.Sum(a0);
        sums[1] = Vector512.Sum(a1);
        sums[2] = Vector512.Sum(a2);
        sums[3] = Vector512.Sum(a3);
    }

    /// <summary>The raw sum of one query against one row (the rows after the last whole group of four).</summary>
    public static int One(byte* query, sbyte* row, int stride)
    {
        var ones = Vector512<short>.One;
        var a = Vector512<int>.Zero;
        for (int j = 0; j < stride; j += QuantisedRows.Lane)
            a = Step(Vector512.LoadAligned(query + j), Vector512.LoadAligned(row + j), ones, a);
        return Vector512.Sum(a);
    }

    /// <summary>The raw sums of 4 queries (<paramref name="queryStride"/> bytes apart) against 5 rows (given one by one, so
    /// that a short last tile repeats a valid row) over <paramref name="length"/> bytes, into <paramref name="sums"/>,
    /// query-major (query i, row r at 5 i + r); writes <see cref="TileSums"/> ints, the last 12 of them meaningless.</summary>
    public static void Tile(byte* query, int queryStride, sbyte* r0, sbyte* r1, sbyte* r2, sbyte* r3, sbyte* r4, int length,
        int* sums)
    {
        // Unrolled register tile: the JIT keeps named Vector512 locals in registers but spills any array of them.
        var ones = Vector512<short>.One;
        var c00 = Vector512<int>.Zero;
        var (c01, c02, c03, c04) = (c00, c00, c00, c00);
        var (c10, c11, c12, c13, c14) = (c00, c00, c00, c00, c00);
        var (c20, c21, c22, c23, c24) = (c00, c00, c00, c00, c00);
        var (c30, c31, c32, c33, c34) = (c00, c00, c00, c00, c00);
        byte* q1 = query + queryStride, q2 = q1 + queryStride, q3 = q2 + queryStride;
        for (int j = 0; j < length; j += QuantisedRows.Lane)
        {
            var e0 = Vector512.LoadAligned(r0 + j);
            var e1 = Vector512.LoadAligned(r1 + j);
            var e2 = Vector512.LoadAligned(r2 + j);
            var e3 = Vector512.LoadAligned(r3 + j);
            var e4 = Vector512.LoadAligned(r4 + j);
            var x = Vector512.LoadAligned(query + j);
            c00 = Step(x, e0, ones, c00);
            c01 = Step(x, e1, ones, c01);
            c02 = Step(x, e2, ones, c02);
            c03 = Step(x, e3, ones, c03);
            c04 = Step(x, e4, ones, c04);
            x = Vector512.LoadAligned(q1 + j);
            c10 = Step(x, e0, ones, c10);
            c11 = Step(x, e1, ones, c11);
            c12 = Step(x, e2, ones, c12);
            c13 = Step(x, e3, ones, c13);
            c14 = Step(x, e4, ones, c14);
            x = Vector512.LoadAligned(q2 + j);
            c20 = Step(x, e0, ones, c20);
            c21 = Step(x, e1, ones, c21);
            c22 = Step(x, e2, ones, c22);
            c23 = Step(x, e3, ones, c23);
            c24 = Step(x, e4, ones, c24);
            x = Vector512.LoadAligned(q3 + j);
            c30 = Step(x, e0, ones, c30);
            c31 = Step(x, e1, ones, c31);
            c32 = Step(x, e2, ones, c32);
            c33 = Step(x, e3, ones, c33);
            c34 = Step(x, e4, ones, c34);
        }
        // Row r of query a goes to sums[5 a + r]: the first 16 through one transposed reduction (lane 4 a + r), the five
        // rows' last through another (lane 4 a), then two permutes into that order.
        var first = Reduce16(c00, c10, c20, c30, c01, c11, c21, c31, c02, c12, c22, c32, c03, c13, c23, c33);
        var last = Reduce4(c04, c14, c24, c34);
        Avx512F.PermuteVar16x32x2(first, FirstSums, last).Store(sums);
        Avx512F.PermuteVar16x32x2(first, LastSums, last).Store(sums + 16);
    }

    /// <summary>Ints <see cref="Tile"/> writes: its 20 sums, rounded up to two whole vectors.</summary>
    public const int TileSums = 32;

    /// <summary>Where sums[0..16) and sums[16..20) of <see cref="Tile"/> come from: lane 4 a + r of the 16-vector reduction
    /// (r &lt; 4), lane 16 + 4 a (the second operand) for row 4.</summary>
    static readonly Vector512<int> FirstSums = Vector512.Create(0, 1, 2, 3, 16, 4, 5, 6, 7, 20, 8, 9, 10, 11, 24, 12);
    static readonly Vector512<int> LastSums = Vector512.Create(13, 14, 15, 28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    /// <summary>[a's 256-bit halves added, b's halves added], as 128-bit lanes (a0 + a2, a1 + a3, b0 + b2, b1 + b3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Halves(Vector512<int> a, Vector512<int> b) =>
        Avx512F.Add(Avx512F.Shuffle4x128(a, b, 0x44), Avx512F.Shuffle4x128(a, b, 0xEE));

    /// <summary>From two <see cref="Halves"/> results, lane j holds 4 partial sums of the j-th of their four vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Quarters(Vector512<int> a, Vector512<int> b) =>
        Avx512F.Add(Avx512F.Shuffle4x128(a, b, 0x88), Avx512F.Shuffle4x128(a, b, 0xDD));

    /// <summary>The lane sums of 16 vectors in one: element 4 L + t is the sum of v[4 t + L]. 45 instructions against
    /// 9 for each sum alone; integer additions, so exact in any order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Reduce16(Vector512<int> v0, Vector512<int> v1, Vector512<int> v2, Vector512<int> v3,
        Vector512<int> v4, Vector512<int> v5, Vector512<int> v6, Vector512<int> v7, Vector512<int> v8, Vector512<int> v9,
        Vector512<int> v10, Vector512<int> v11, Vector512<int> v12, Vector512<int> v13, Vector512<int> v14,
        Vector512<int> v15)
    {
        // Lane L of y0..y3 holds 4 partials of v[L], v[4 + L], v[8 + L], v[12 + L].
        var y0 = Quarters(Halves(v0, v1), Halves(v2, v3));
        var y1 = Quarters(Halves(v4, v5), Halves(v6, v7));
        var y2 = Quarters(Halves(v8, v9), Halves(v10, v11));
        var y3 = Quarters(Halves(v12, v13), Halves(v14, v15));
        // Lane L: two partials each of v[L], v[4 + L] (s), of v[8 + L], v[12 + L] (t), interleaved.
        var s = Avx512F.Add(Avx512F.UnpackLow(y0, y1), Avx512F.UnpackHigh(y0, y1));
        var t = Avx512F.Add(Avx512F.UnpackLow(y2, y3), Avx512F.UnpackHigh(y2, y3));
        return Avx512F.Add(Avx512F.UnpackLow(s.AsInt64(), t.AsInt64()), Avx512F.UnpackHigh(s.AsInt64(), t.AsInt64())).AsInt32();
    }

    /// <summary>The lane sums of 4 vectors: element 4 L (and each of 4 L + 1..3) is the sum of v[L].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<int> Reduce4(Vector512<int> v0, Vector512<int> v1, Vector512<int> v2, Vector512<int> v3)
    {
        var y = Quarters(Halves(v0, v1), Halves(v2, v3));
        var s = Avx512F.Add(Avx512F.UnpackLow(y, y), Avx512F.UnpackHigh(y, y));
        return Avx512F.Add(Avx512F.UnpackLow(s.AsInt64(), s.AsInt64()), Avx512F.UnpackHigh(s.AsInt64(), s.AsInt64())).AsInt32();
    }
}
