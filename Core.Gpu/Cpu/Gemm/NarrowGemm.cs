namespace Hybrid.Core.Gpu.Cpu;

/// <summary>AVX-512 GEMMs for convolutions whose weights are small (a few dozen channels): the weights are packed once per call
/// and stay in L2, while the column matrix and the images are read in place, one 32-pixel strip at a time. A general GEMM
/// would copy (pack) the whole column matrix again for every call, and on these skinny shapes that copy costs about as much as
/// the arithmetic. Both sides of the product map straight onto NCHW planes, so results land in the caller's tensors.</summary>
internal static unsafe class NarrowGemm
{
    /// <summary>Rows of C per micro-tile: 8 rows x 2 vectors is 16 accumulators, leaving registers for the strip and broadcasts.</summary>
    public const int MR = 8;
    /// <summary>Columns of C per micro-tile; callers use these kernels only on planes that are a whole number of strips.</summary>
    public const int Strip = 32;

    /// <summary>Packed weights larger than this (floats) would fall out of L2 between strips, where the packed GEMM wins again.</summary>
    const int MaxPacked = 1 << 16;

    public static bool Supported => Avx512F.IsSupported;

    /// <summary>True when an m x k operand A is small enough to be swept once per strip.</summary>
    public static bool Fits(int m, int k) => (long)Panels(m) * MR * k <= MaxPacked;

    /// <summary>Floats <see cref="Pack"/> writes for an m-row operand of depth k.</summary>
    public static int PackedLength(int m, int k) => Panels(m) * MR * k;

    static int Panels(int m) => (m + MR - 1) / MR;

    /// <summary>Lays A(i, p) = a[i * rowStride + p * colStride] out as MR-row panels, each k steps of MR values (rows past m are
    /// zero), so a tile's broadcasts are consecutive. The strides let one routine pack W (for outputs) and W^T (for the column
    /// gradient) alike.</summary>
    public static void Pack(int m, int k, float* a, long rowStride, long colStride, float* packed)
    {
        for (int panel = 0; panel < Panels(m); panel++)
            for (int p = 0; p < k; p++)
                for (int r = 0; r < MR; r++)
                {
                    int i = panel * MR + r;
                    packed[((long)panel * k + p) * MR + r] = i < m ? a[i * rowStride + p * colStride] : 0f;
                }
    }

    /// <summary>C[i, q] = start(i, q) + sum_p A(i, p) B(p, q) for i &lt; m, q &lt; n (n a multiple of <see cref="Strip"/>), with A
    /// packed by <see cref="Pack"/>. B is addressed as rows of <paramref name="width"/> pixels (a multiple of 16) that lie
    /// <paramref name="pitch"/> floats apart: B(p, q) = b[taps[p] + (q / width) * pitch + q % width]. A column matrix is one
    /// long row (width n, taps[p] = p * ld); a zero-padded image is read in place as the column matrix it would unfold to,
    /// with one tap per (channel, kernel row, kernel column). start is C itself when <paramref name="accumulate"/>, else
    /// bias[i] or, without a bias, 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(int m, int n, int k, float* packed, float* b, int* taps, int width, int pitch, float* c, long ldc, float* bias,
        bool accumulate)
    {
        for (int q = 0; q < n; q += Strip)
        {
            // A strip's two vectors may sit on different rows of B (16-pixel rows).
            long first = (long)(q / width) * pitch + q % width, second = (long)((q + 16) / width) * pitch + (q + 16) % width - first;
            for (int row = 0; row < m; row += MR)
                Tile(k, packed + (long)row * k, b + first, taps, second, c + row * ldc + q, ldc, Math.Min(MR, m - row),
                    bias == null ? null : bias + row, accumulate);
        }
    }

    /// <summary>Taps of a column matrix with rows <paramref name="ld"/> floats apart.</summary>
    public static void RowTaps(int k, int ld, int* taps)
    {
        for (int p = 0; p < k; p++) taps[p] = p * ld;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile(int k, float* a, float* b, int* taps, long second, float* c, long ldc, int rows, float* bias, bool accumulate)
    {
        // Unrolled register tile: 16 accumulators live in ZMM registers only as named locals; an array of vectors would spill.
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default,
            c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
        for (int p = 0; p < k; p++, a += MR)
        {
            float* row = b + taps[p];
            var b0 = Vector512.Load(row);
            var b1 = Vector512.Load(row + second);
            var w = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(w, b0, c00); c01 = Avx512F.FusedMultiplyAdd(w, b1, c01);
            w = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(w, b0, c10); c11 = Avx512F.FusedMultiplyAdd(w, b1, c11);
            w = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(w, b0, c20); c21 = Avx512F.FusedMultiplyAdd(w, b1, c21);
            w = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(w, b0, c30); c31 = Avx512F.FusedMultiplyAdd(w, b1, c31);
            w = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(w, b0, c40); c41 = Avx512F.FusedMultiplyAdd(w, b1, c41);
            w = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(w, b0, c50); c51 = Avx512F.FusedMultiplyAdd(w, b1, c51);
            w = Vector512.Create(a[6]);
            c60 = Avx512F.FusedMultiplyAdd(w, b0, c60); c61 = Avx512F.FusedMultiplyAdd(w, b1, c61);
            w = Vector512.Create(a[7]);
            c70 = Avx512F.FusedMultiplyAdd(w, b0, c70); c71 = Avx512F.FusedMultiplyAdd(w, b1, c71);
        }
        Put(c, c00, c01, bias, accumulate);
        if (rows > 1) Put(c + ldc, c10, c11, bias == null ? null : bias + 1, accumulate);
        if (rows > 2) Put(c + 2 * ldc, c20, c21, bias == null ? null : bias + 2, accumulate);
        if (rows > 3) Put(c + 3 * ldc, c30, c31, bias == null ? null : bias + 3, accumulate);
        if (rows > 4) Put(c + 4 * ldc, c40, c41, bias == null ? null : bias + 4, accumulate);
        if (rows > 5) Put(c + 5 * ldc, c50, c51, bias == null ? null : bias + 5, accumulate);
        if (rows > 6) Put(c + 6 * ldc, c60, c61, bias == null ? null : bias + 6, accumulate);
        if (rows > 7) Put(c + 7 * ldc, c70, c71, bias == null ? null : bias + 7, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Put(float* row, Vector512<float> low, Vector512<float> high, float* bias, bool accumulate)
    {
        if (accumulate)
        {
            low += Vector512.Load(row);
            high += Vector512.Load(row + 16);
        }
        else if (bias != null)
        {
            var v = Vector512.Create(*bias);
            low += v;
            high += v;
        }
        low.Store(row);
        high.Store(row + 16);
    }
}
