namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The managed Gram kernel of the Cpu backend: C += A Aᵀ over one cache-sized chunk of features, A the
/// chunk's rows converted to float64. Packing (BLIS-style) lays A out as panels of 8 rows, feature-major
/// (panel[f * 8 + r] = row 8J + r, feature f), so that a tile of C is 8 FMA accumulators fed per feature by one or two
/// vector loads and a few broadcasts: FMA-bound, with every operand from L1 or L2. Only tiles reaching the upper
/// triangle are computed. On n = 100 (one core of this project's AMD EPYC machines) the 4 x 8 tiles of 256-bit vectors
/// run at about 41 GFLOP/s and the 8 x 8 tiles of 512-bit vectors about 12% faster, where OpenBLAS's dsyrk reaches
/// about 29 (its generic blocking wastes much of a 100 x 100 triangle), so this is the Cpu backend's first choice where
/// FMA exists. C is padded to Rows(n) x Rows(n); padding rows of A are zero.</summary>
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

    /// <summary>8 x 8 tiles, one 512-bit accumulator per row of the tile.</summary>
    internal static void AddUpperWide(double* panels, int np, int k, double* c)
    {
        long stride = (long)k * Panel;
        for (int i = 0; i < np; i += Panel)
        {
            double* a = panels + i / Panel * stride;
            for (int j = i; j < np; j += Panel)
            {
                double* b = panels + j / Panel * stride;
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
                double* row = c + (long)i * np + j;
                (Vector512.Load(row) + c0).Store(row);
                (Vector512.Load(row + np) + c1).Store(row + np);
                (Vector512.Load(row + 2 * np) + c2).Store(row + 2 * np);
                (Vector512.Load(row + 3 * np) + c3).Store(row + 3 * np);
                (Vector512.Load(row + 4 * np) + c4).Store(row + 4 * np);
                (Vector512.Load(row + 5 * np) + c5).Store(row + 5 * np);
                (Vector512.Load(row + 6 * np) + c6).Store(row + 6 * np);
                (Vector512.Load(row + 7 * np) + c7).Store(row + 7 * np);
            }
        }
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
