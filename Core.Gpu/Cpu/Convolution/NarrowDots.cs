namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The weight gradient of a narrow convolution, dW = dY col^T, as blocks of dot products over the pixels. dW is tiny
/// (out channels x filter length) and the reduction runs over every pixel of a chunk, so each tile keeps 4 x 6 dot products in
/// registers across all the chunk's images and reduces them once; dY is read straight from the NCHW gradient, without the
/// channel-major copy a GEMM would need.</summary>
internal static unsafe class NarrowDots
{
    const int Rows = 4, Cols = 6;

    /// <summary>gw[o * k + r] += sum over images i and pixels q &lt; p of g[i * gImage + o * p + q] * B_i(r, q), for o &lt; m and
    /// r &lt; k. B is addressed as <see cref="NarrowGemm.Multiply"/> addresses it, image i at b + i * bImage:
    /// B_i(r, q) = b[i * bImage + taps[r] + (q / width) * pitch + q % width], with width a multiple of 16 that divides p.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate(int m, int k, int images, int p, float* g, long gImage, float* b, int* taps, long bImage, int width, int pitch,
        float* gw)
    {
        // Six column rows of a chunk fit L1 while every output channel passes over them; the other order re-reads the whole
        // column matrix, about an L2's worth, once per four channels.
        for (int r = 0; r < k; r += Cols)
            for (int o = 0; o < m; o += Rows)
                Tile(m, k, o, r, images, p, g, gImage, b, taps, bImage, width, pitch, gw);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile(int m, int k, int o, int r, int images, int p, float* g, long gImage, float* b, int* taps, long bImage, int width, int pitch,
        float* gw)
    {
        // Rows or columns past the edge repeat the last real one, so the loop stays branch-free; their sums are never stored.
        float* g0 = g + (long)o * p, g1 = g + (long)Math.Min(o + 1, m - 1) * p;
        float* g2 = g + (long)Math.Min(o + 2, m - 1) * p, g3 = g + (long)Math.Min(o + 3, m - 1) * p;
        float* x0 = b + taps[r], x1 = b + taps[Math.Min(r + 1, k - 1)], x2 = b + taps[Math.Min(r + 2, k - 1)];
        float* x3 = b + taps[Math.Min(r + 3, k - 1)], x4 = b + taps[Math.Min(r + 4, k - 1)], x5 = b + taps[Math.Min(r + 5, k - 1)];
        // Unrolled register tile: 4 x 6 dot products stay in ZMM registers across the chunk only as named locals.
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default, s04 = default, s05 = default;
        Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default, s14 = default, s15 = default;
        Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default, s24 = default, s25 = default;
        Vector512<float> s30 = default, s31 = default, s32 = default, s33 = default, s34 = default, s35 = default;
        for (int i = 0; i < images; i++)
            for (int q = 0; q < p; q += width)
            {
                long gi = i * gImage + q, ci = i * bImage + (long)(q / width) * pitch;
                for (int x = 0; x < width; x += 16)
                {
                    Vector512<float> a0 = Vector512.Load(g0 + gi + x), a1 = Vector512.Load(g1 + gi + x);
                    Vector512<float> a2 = Vector512.Load(g2 + gi + x), a3 = Vector512.Load(g3 + gi + x);
                    // One block per tile column, written out: a loop over columns would index the sums, which then live in memory.
                    var v = Vector512.Load(x0 + ci + x);
                    s00 = Avx512F.FusedMultiplyAdd(a0, v, s00); s10 = Avx512F.FusedMultiplyAdd(a1, v, s10);
                    s20 = Avx512F.FusedMultiplyAdd(a2, v, s20); s30 = Avx512F.FusedMultiplyAdd(a3, v, s30);
                    v = Vector512.Load(x1 + ci + x);
                    s01 = Avx512F.FusedMultiplyAdd(a0, v, s01); s11 = Avx512F.FusedMultiplyAdd(a1, v, s11);
                    s21 = Avx512F.FusedMultiplyAdd(a2, v, s21); s31 = Avx512F.FusedMultiplyAdd(a3, v, s31);
                    v = Vector512.Load(x2 + ci + x);
                    s02 = Avx512F.FusedMultiplyAdd(a0, v, s02); s12 = Avx512F.FusedMultiplyAdd(a1, v, s12);
                    s22 = Avx512F.FusedMultiplyAdd(a2, v, s22); s32 = Avx512F.FusedMultiplyAdd(a3, v, s32);
                    v = Vector512.Load(x3 + ci + x);
                    s03 = Avx512F.FusedMultiplyAdd(a0, v, s03); s13 = Avx512F.FusedMultiplyAdd(a1, v, s13);
                    s23 = Avx512F.FusedMultiplyAdd(a2, v, s23); s33 = Avx512F.FusedMultiplyAdd(a3, v, s33);
                    v = Vector512.Load(x4 + ci + x);
                    s04 = Avx512F.FusedMultiplyAdd(a0, v, s04); s14 = Avx512F.FusedMultiplyAdd(a1, v, s14);
                    s24 = Avx512F.FusedMultiplyAdd(a2, v, s24); s34 = Avx512F.FusedMultiplyAdd(a3, v, s34);
                    v = Vector512.Load(x5 + ci + x);
                    s05 = Avx512F.FusedMultiplyAdd(a0, v, s05); s15 = Avx512F.FusedMultiplyAdd(a1, v, s15);
                    s25 = Avx512F.FusedMultiplyAdd(a2, v, s25); s35 = Avx512F.FusedMultiplyAdd(a3, v, s35);
                }
            }
        Store(gw, m, k, o, r, s00, s01, s02, s03, s04, s05);
        Store(gw, m, k, o + 1, r, s10, s11, s12, s13, s14, s15);
        Store(gw, m, k, o + 2, r, s20, s21, s22, s23, s24, s25);
        Store(gw, m, k, o + 3, r, s30, s31, s32, s33, s34, s35);
    }

    /// <summary>Adds one tile row's six sums to gw, leaving out the repeated edge columns and rows. The horizontal sums go four
    /// at a time through a transposing add tree; reducing each vector on its own costs about as much as the dot products of
    /// a small chunk.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* gw, int m, int k, int o, int r, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2,
        Vector512<float> v3, Vector512<float> v4, Vector512<float> v5)
    {
        if (o >= m) return;
        float* row = gw + (long)o * k + r;
        int n = Math.Min(Cols, k - r);
        var first = Sums(v0, v1, v2, v3);
        if (n >= 4) (Vector128.Load(row) + first).Store(row);
        else
            for (int j = 0; j < n; j++) row[j] += first.GetElement(j);
        if (n <= 4) return;
        var rest = Sums(v4, v5, v4, v5);
        row[4] += rest.GetElement(0);
        if (n > 5) row[5] += rest.GetElement(1);
    }

    /// <summary>[sum(a), sum(b), sum(c), sum(d)].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector128<float> Sums(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        var ab = Avx.HorizontalAdd(a.GetLower() + a.GetUpper(), b.GetLower() + b.GetUpper());
        var cd = Avx.HorizontalAdd(c.GetLower() + c.GetUpper(), d.GetLower() + d.GetUpper());
        var all = Avx.HorizontalAdd(ab, cd);
        return all.GetLower() + all.GetUpper();
    }
}
