namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The managed Gram kernel of the Cpu backend: C += A Aᵀ over one cache-sized chunk of features, A the
/// chunk's rows converted to float64. Packing (BLIS-style) lays A out as panels of 8 rows, feature-major
/// (panel[f * 8 + r] = row 8J + r, feature f), so that a tile of C is 8 FMA accumulators fed per feature by one or two
/// vector loads and a few broadcasts: FMA-bound, with every operand from L1 or L2. Only tiles reaching the upper
/// triangle are computed. On n = 100 (one core of this project's AMD EPYC machines) the 4 x 8 tiles of 256-bit vectors
/// run at about 41 GFLOP/s and the 8 x 8 tiles of 512-bit vectors about 12% faster, where OpenBLAS's dsyrk reaches
/// about 29 (its generic blocking wastes much of a 100 x 100 triangle), so this is the Cpu backend's first choice where
/// FMA exists. On the AVX-512 Xeons the 8 x 8 tile ran at 43% of the FMA ports' peak, held by its nine loads per eight
/// FMAs; the 8 x 24 tile (11 loads per 24 FMAs) cut the kernel's time by about a third there (the bench cka matrix,
/// one core). C is padded to Rows(n) x Rows(n); padding rows of A are zero.</summary>
internal static unsafe class GramMicroKernel
{
    /// <summary>Rows per packed panel (and columns per tile of C).</summary>
    public const int Panel = 8;

    /// <summary>n rounded up to whole panels.</summary>
    public static int Rows(int n) => (n + Panel - 1) & ~(Panel - 1);

    /// <summary>Packs features [0, k) of the n rows at x (float32, row stride ld) into Rows(n) / 8 panels of k x 8
    /// doubles at <paramref name="panels"/>.</summary>
    public static void Pack(float* x, long ld, int n, int k, double* panels)
    {
        for (int p = 0; p < Rows(n) / Panel; p++)
        {
            double* panel = panels + (long)p * k * Panel;
            int rows = Math.Min(Panel, n - p * Panel);
            float* first = x + p * Panel * ld;
            int f = 0;
            if (rows == Panel && Avx.IsSupported)
                for (; f <= k - 4; f += 4)
                {
                    // Four features of eight rows, widened, then two 4 x 4 transposes into feature-major order.
                    Transpose(Widen(first, f), Widen(first + ld, f), Widen(first + 2 * ld, f), Widen(first + 3 * ld, f), panel + f * Panel);
                    Transpose(Widen(first + 4 * ld, f), Widen(first + 5 * ld, f), Widen(first + 6 * ld, f), Widen(first + 7 * ld, f),
                        panel + f * Panel + 4);
                }
            for (; f < k; f++)
                for (int r = 0; r < Panel; r++) panel[f * Panel + r] = r < rows ? first[r * ld + f] : 0.0;
        }
    }

    static Vector256<double> Widen(float* row, int f) => Avx.ConvertToVector256Double(Sse.LoadVector128(row + f));

    /// <summary>destination[q * 8 + r] = a_r[q] for rows a0..a3 of four features.</summary>
    static void Transpose(Vector256<double> a0, Vector256<double> a1, Vector256<double> a2, Vector256<double> a3, double* destination)
    {
        var even01 = Avx.UnpackLow(a0, a1);   // a0[0] a1[0] a0[2] a1[2]
        var odd01 = Avx.UnpackHigh(a0, a1);   // a0[1] a1[1] a0[3] a1[3]
        var even23 = Avx.UnpackLow(a2, a3);
        var odd23 = Avx.UnpackHigh(a2, a3);
        Avx.Store(destination, Avx.Permute2x128(even01, even23, 0x20));
        Avx.Store(destination + Panel, Avx.Permute2x128(odd01, odd23, 0x20));
        Avx.Store(destination + 2 * Panel, Avx.Permute2x128(even01, even23, 0x31));
        Avx.Store(destination + 3 * Panel, Avx.Permute2x128(odd01, odd23, 0x31));
    }

    /// <summary>C[i, j] += Σ_f A[i, f] A[j, f] for every tile of the padded np x np C (np = Rows(n)) that reaches the
    /// upper triangle; entries of those tiles below the diagonal are written too, and ignored by the caller.</summary>
    public static void AddUpper(double* panels, int np, int k, double* c)
    {
        if (Vector512.IsHardwareAccelerated) AddUpperWide(panels, np, k, c);
        else AddUpperNarrow(panels, np, k, c);
    }

    /// <summary>8 x 24 tiles (three panels of columns at once), then 8 x 8 tiles for the one or two panels left of a
    /// row. A wide tile loads three vectors and broadcasts eight values per feature for 24 FMAs, where an 8 x 8 tile
    /// needs one load and eight broadcasts for eight: the narrow tile left the FMA ports waiting on the load ports.
    /// Every entry of C still adds its features in order in one accumulator lane, so both tiles give the same
    /// bits.</summary>
    internal static void AddUpperWide(double* panels, int np, int k, double* c)
    {
        long stride = (long)k * Panel;
        int count = np / Panel;
        for (int ip = 0; ip < count; ip++)
        {
            double* a = panels + ip * stride;
            int jp = ip;
            for (; jp + 3 <= count; jp += 3) AddTile8x24(a, panels + jp * stride, stride, k, c + (long)ip * Panel * np + jp * Panel, np);
            for (; jp < count; jp++) AddTile8x8(a, panels + jp * stride, k, c + (long)ip * Panel * np + jp * Panel, np);
        }
    }

    /// <summary>C[0..8, 0..24) += A Bᵀ for the 8-row panel a and the three consecutive panels from b.</summary>
    static void AddTile8x24(double* a, double* b, long stride, int k, double* c, int np)
    {
        double* b1 = b + stride, b2 = b1 + stride;
        // Unrolled register tile: 24 ZMM accumulators (of 32) stay in registers across the features only as named locals.
        Vector512<double> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector512<double> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        Vector512<double> c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default;
        Vector512<double> c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        for (int f = 0; f < k; f++)
        {
            var v0 = Vector512.Load(b + f * Panel);
            var v1 = Vector512.Load(b1 + f * Panel);
            var v2 = Vector512.Load(b2 + f * Panel);
            double* af = a + f * Panel;
            var s = Vector512.Create(af[0]);
            c00 = Vector512.FusedMultiplyAdd(s, v0, c00); c01 = Vector512.FusedMultiplyAdd(s, v1, c01); c02 = Vector512.FusedMultiplyAdd(s, v2, c02);
            s = Vector512.Create(af[1]);
            c10 = Vector512.FusedMultiplyAdd(s, v0, c10); c11 = Vector512.FusedMultiplyAdd(s, v1, c11); c12 = Vector512.FusedMultiplyAdd(s, v2, c12);
            s = Vector512.Create(af[2]);
            c20 = Vector512.FusedMultiplyAdd(s, v0, c20); c21 = Vector512.FusedMultiplyAdd(s, v1, c21); c22 = Vector512.FusedMultiplyAdd(s, v2, c22);
            s = Vector512.Create(af[3]);
            c30 = Vector512.FusedMultiplyAdd(s, v0, c30); c31 = Vector512.FusedMultiplyAdd(s, v1, c31); c32 = Vector512.FusedMultiplyAdd(s, v2, c32);
            s = Vector512.Create(af[4]);
            c40 = Vector512.FusedMultiplyAdd(s, v0, c40); c41 = Vector512.FusedMultiplyAdd(s, v1, c41); c42 = Vector512.FusedMultiplyAdd(s, v2, c42);
            s = Vector512.Create(af[5]);
            c50 = Vector512.FusedMultiplyAdd(s, v0, c50); c51 = Vector512.FusedMultiplyAdd(s, v1, c51); c52 = Vector512.FusedMultiplyAdd(s, v2, c52);
            s = Vector512.Create(af[6]);
            c60 = Vector512.FusedMultiplyAdd(s, v0, c60); c61 = Vector512.FusedMultiplyAdd(s, v1, c61); c62 = Vector512.FusedMultiplyAdd(s, v2, c62);
            s = Vector512.Create(af[7]);
            c70 = Vector512.FusedMultiplyAdd(s, v0, c70); c71 = Vector512.FusedMultiplyAdd(s, v1, c71); c72 = Vector512.FusedMultiplyAdd(s, v2, c72);
        }
        AddRow(c, c00, c01, c02);
        AddRow(c + np, c10, c11, c12);
        AddRow(c + 2 * np, c20, c21, c22);
        AddRow(c + 3 * np, c30, c31, c32);
        AddRow(c + 4 * np, c40, c41, c42);
        AddRow(c + 5 * np, c50, c51, c52);
        AddRow(c + 6 * np, c60, c61, c62);
        AddRow(c + 7 * np, c70, c71, c72);
    }

    /// <summary>C[0..8, 0..8) += A Bᵀ for the 8-row panels a and b.</summary>
    static void AddTile8x8(double* a, double* b, int k, double* c, int np)
    {
        // Unrolled register tile: the eight ZMM accumulators stay in registers across the features only as named locals.
        Vector512<double> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<double> c4 = default, c5 = default, c6 = default, c7 = default;
        for (int f = 0; f < k; f++)
        {
            var bf = Vector512.Load(b + f * Panel);
            double* af = a + f * Panel;
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(af[0]), bf, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(af[1]), bf, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(af[2]), bf, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(af[3]), bf, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(af[4]), bf, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(af[5]), bf, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(af[6]), bf, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(af[7]), bf, c7);
        }
        (Vector512.Load(c) + c0).Store(c);
        (Vector512.Load(c + np) + c1).Store(c + np);
        (Vector512.Load(c + 2 * np) + c2).Store(c + 2 * np);
        (Vector512.Load(c + 3 * np) + c3).Store(c + 3 * np);
        (Vector512.Load(c + 4 * np) + c4).Store(c + 4 * np);
        (Vector512.Load(c + 5 * np) + c5).Store(c + 5 * np);
        (Vector512.Load(c + 6 * np) + c6).Store(c + 6 * np);
        (Vector512.Load(c + 7 * np) + c7).Store(c + 7 * np);
    }

    static void AddRow(double* row, Vector512<double> v0, Vector512<double> v1, Vector512<double> v2)
    {
        (Vector512.Load(row) + v0).Store(row);
        (Vector512.Load(row + Panel) + v1).Store(row + Panel);
        (Vector512.Load(row + 2 * Panel) + v2).Store(row + 2 * Panel);
    }

    /// <summary>4 x 8 tiles of 256-bit vectors: two accumulators per row of the tile.</summary>
    internal static void AddUpperNarrow(double* panels, int np, int k, double* c)
    {
        long stride = (long)k * Panel;
        for (int i = 0; i < np; i += 4)
        {
            double* a = panels + i / Panel * stride + i % Panel;
            for (int j = i & ~(Panel - 1); j < np; j += Panel)
            {
                double* b = panels + j / Panel * stride;
                // Unrolled register tile: the eight YMM accumulators stay in registers across the features only as named locals.
                Vector256<double> c00 = default, c01 = default, c10 = default, c11 = default;
                Vector256<double> c20 = default, c21 = default, c30 = default, c31 = default;
                for (int f = 0; f < k; f++)
                {
                    var b0 = Vector256.Load(b + f * Panel);
                    var b1 = Vector256.Load(b + f * Panel + 4);
                    var a0 = Vector256.Create(a[f * Panel]);
                    c00 = Vector256.FusedMultiplyAdd(a0, b0, c00);
                    c01 = Vector256.FusedMultiplyAdd(a0, b1, c01);
                    var a1 = Vector256.Create(a[f * Panel + 1]);
                    c10 = Vector256.FusedMultiplyAdd(a1, b0, c10);
                    c11 = Vector256.FusedMultiplyAdd(a1, b1, c11);
                    var a2 = Vector256.Create(a[f * Panel + 2]);
                    c20 = Vector256.FusedMultiplyAdd(a2, b0, c20);
                    c21 = Vector256.FusedMultiplyAdd(a2, b1, c21);
                    var a3 = Vector256.Create(a[f * Panel + 3]);
                    c30 = Vector256.FusedMultiplyAdd(a3, b0, c30);
                    c31 = Vector256.FusedMultiplyAdd(a3, b1, c31);
                }
                double* row = c + (long)i * np + j;
                AddRow(row, c00, c01);
                AddRow(row + np, c10, c11);
                AddRow(row + 2 * np, c20, c21);
                AddRow(row + 3 * np, c30, c31);
            }
        }
    }

    static void AddRow(double* row, Vector256<double> low, Vector256<double> high)
    {
        (Vector256.Load(row) + low).Store(row);
        (Vector256.Load(row + 4) + high).Store(row + 4);
    }
}
