namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The scatter of full and tied mixtures: C += Aᵀ A on the upper triangle of C for the rows √r (x - s) of one
/// component in one block. A register-tiled loop rather than OpenBLAS dsyrk: at d of a few dozen, dsyrk spends more time
/// packing and clearing than multiplying, and a triangle of 4 x 12 (4 x 8, 4 x 4) tiles does about half the work of the
/// full square.</summary>
internal static unsafe class MixtureGram
{
    const int W = 4;
    // Rows per slice: a slice of A (about 16 KiB at d = 32) stays in L1 while every tile of C passes over it.
    const int SliceBytes = 16384;

    /// <summary>The padded width of a row of A: d rounded up to whole vectors (the padding holds zeros).</summary>
    public static int Stride(int d) => (d + W - 1) & ~(W - 1);

    /// <summary>Adds Aᵀ A to the d x d matrix C (row stride d) on and above its diagonal (a few entries just below it
    /// too, which the caller overwrites by symmetry). A is m x <see cref="Stride"/>(d), row-major, zero beyond column d.</summary>
    public static void AddUpper(double* a, int m, int d, double* c)
    {
        int stride = Stride(d);
        int slice = Math.Max(8, SliceBytes / (8 * stride));
        for (int first = 0; first < m; first += slice)
        {
            double* rows = a + (long)first * stride;
            int count = Math.Min(slice, m - first);
            for (int top = 0; top < d; top += W)
            {
                int left = top;
                for (; left + 3 * W <= stride; left += 3 * W) Tile3(rows, count, stride, top, left, c, d);
                if (left + 2 * W <= stride) Tile2(rows, count, stride, top, left, c, d);
                else if (left < stride) Tile1(rows, count, stride, top, left, c, d);
            }
        }
    }

    // C[top..top+4, left..left+12] += Σᵢ A[i, top..top+4]ᵀ A[i, left..left+12], twelve accumulators in registers.
    static void Tile3(double* a, int m, int stride, int top, int left, double* c, int d)
    {
        // Unrolled register tile: the JIT keeps named Vector256 locals in registers but spills any array of them.
        Vector256<double> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default,
            c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        for (int i = 0; i < m; i++)
        {
            double* row = a + (long)i * stride;
            var v0 = Vector256.Load(row + left);
            var v1 = Vector256.Load(row + left + W);
            var v2 = Vector256.Load(row + left + 2 * W);
            var s = Vector256.Create(row[top]);
            c00 = Vector256.FusedMultiplyAdd(s, v0, c00);
            c01 = Vector256.FusedMultiplyAdd(s, v1, c01);
            c02 = Vector256.FusedMultiplyAdd(s, v2, c02);
            s = Vector256.Create(row[top + 1]);
            c10 = Vector256.FusedMultiplyAdd(s, v0, c10);
            c11 = Vector256.FusedMultiplyAdd(s, v1, c11);
            c12 = Vector256.FusedMultiplyAdd(s, v2, c12);
            s = Vector256.Create(row[top + 2]);
            c20 = Vector256.FusedMultiplyAdd(s, v0, c20);
            c21 = Vector256.FusedMultiplyAdd(s, v1, c21);
            c22 = Vector256.FusedMultiplyAdd(s, v2, c22);
            s = Vector256.Create(row[top + 3]);
            c30 = Vector256.FusedMultiplyAdd(s, v0, c30);
            c31 = Vector256.FusedMultiplyAdd(s, v1, c31);
            c32 = Vector256.FusedMultiplyAdd(s, v2, c32);
        }
        Store(c, d, top, left, c00, c01, c02);
        Store(c, d, top + 1, left, c10, c11, c12);
        Store(c, d, top + 2, left, c20, c21, c22);
        Store(c, d, top + 3, left, c30, c31, c32);
    }

    // C[top..top+4, left..left+8] += Σᵢ A[i, top..top+4]ᵀ A[i, left..left+8].
    static void Tile2(double* a, int m, int stride, int top, int left, double* c, int d)
    {
        // Unrolled register tile: the JIT keeps named Vector256 locals in registers but spills any array of them.
        Vector256<double> c00 = default, c01 = default, c10 = default, c11 = default,
            c20 = default, c21 = default, c30 = default, c31 = default;
        for (int i = 0; i < m; i++)
        {
            double* row = a + (long)i * stride;
            var v0 = Vector256.Load(row + left);
            var v1 = Vector256.Load(row + left + W);
            var s = Vector256.Create(row[top]);
            c00 = Vector256.FusedMultiplyAdd(s, v0, c00);
            c01 = Vector256.FusedMultiplyAdd(s, v1, c01);
            s = Vector256.Create(row[top + 1]);
            c10 = Vector256.FusedMultiplyAdd(s, v0, c10);
            c11 = Vector256.FusedMultiplyAdd(s, v1, c11);
            s = Vector256.Create(row[top + 2]);
            c20 = Vector256.FusedMultiplyAdd(s, v0, c20);
            c21 = Vector256.FusedMultiplyAdd(s, v1, c21);
            s = Vector256.Create(row[top + 3]);
            c30 = Vector256.FusedMultiplyAdd(s, v0, c30);
            c31 = Vector256.FusedMultiplyAdd(s, v1, c31);
        }
        Add(c, d, top, left, c00);
        Add(c, d, top, left + W, c01);
        Add(c, d, top + 1, left, c10);
        Add(c, d, top + 1, left + W, c11);
        Add(c, d, top + 2, left, c20);
        Add(c, d, top + 2, left + W, c21);
        Add(c, d, top + 3, left, c30);
        Add(c, d, top + 3, left + W, c31);
    }

    // C[top..top+4, left..left+4] += Σᵢ A[i, top..top+4]ᵀ A[i, left..left+4].
    static void Tile1(double* a, int m, int stride, int top, int left, double* c, int d)
    {
        // Unrolled register tile: the JIT keeps named Vector256 locals in registers but spills any array of them.
        Vector256<double> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int i = 0; i < m; i++)
        {
            double* row = a + (long)i * stride;
            var v = Vector256.Load(row + left);
            c0 = Vector256.FusedMultiplyAdd(Vector256.Create(row[top]), v, c0);
            c1 = Vector256.FusedMultiplyAdd(Vector256.Create(row[top + 1]), v, c1);
            c2 = Vector256.FusedMultiplyAdd(Vector256.Create(row[top + 2]), v, c2);
            c3 = Vector256.FusedMultiplyAdd(Vector256.Create(row[top + 3]), v, c3);
        }
        Add(c, d, top, left, c0);
        Add(c, d, top + 1, left, c1);
        Add(c, d, top + 2, left, c2);
        Add(c, d, top + 3, left, c3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(double* c, int d, int row, int left, Vector256<double> v0, Vector256<double> v1, Vector256<double> v2)
    {
        Add(c, d, row, left, v0);
        Add(c, d, row, left + W, v1);
        Add(c, d, row, left + 2 * W, v2);
    }

    // Adds one vector of a tile to row `row` of C from column `left`, dropping what falls outside the d x d matrix
    // (the zero padding of A).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Add(double* c, int d, int row, int left, Vector256<double> v)
    {
        if (row >= d || left >= d) return;
        double* target = c + (long)row * d + left;
        if (left + W <= d)
        {
            (Vector256.Load(target) + v).Store(target);
            return;
        }
        for (int e = 0; e < d - left; e++) target[e] += v.GetElement(e);
    }
}
