namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The scatter of full and tied mixtures: C += Aᵀ A on the upper triangle of C for the rows √r (x - s) of one
/// component in one block. A register-tiled loop rather than OpenBLAS dsyrk: at d of a few dozen, dsyrk spends more time
/// packing and clearing than multiplying, and a triangle of 8 x 24 (8 x 16, 8 x 8) tiles of 512-bit vectors does about
/// 60% of the work of the full square at d = 32. Where AVX-512 is missing, .NET runs the same Vector512 code as pairs of
/// 256-bit operations.</summary>
internal static unsafe class MixtureGram
{
    const int W = 8;
    // Rows per slice: a slice of A (about 16 KiB at d = 32) stays in L1 while every tile of C passes over it.
    const int SliceBytes = 16384;

    /// <summary>The padded width of a row of A: d rounded up to whole vectors (the padding holds zeros).</summary>
    public static int Stride(int d) => (d + W - 1) & ~(W - 1);

    /// <summary>Rows of A per slice: a caller that makes A a slice at a time (and adds each in turn) gets the same sums as
    /// one call over all of its rows.</summary>
    public static int SliceRows(int d) => Math.Max(8, SliceBytes / (8 * Stride(d)));

    /// <summary>Adds Aᵀ A to the d x d matrix C (row stride d) on and above its diagonal (a few entries just below it
    /// too, which the caller overwrites by symmetry). A is m x <see cref="Stride"/>(d), row-major, zero beyond column d.</summary>
    public static void AddUpper(double* a, int m, int d, double* c)
    {
        int stride = Stride(d), slice = SliceRows(d);
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

    // C[top..top+8, left..left+24] += Σᵢ A[i, top..top+8]ᵀ A[i, left..left+24], 24 accumulators in registers.
    static void Tile3(double* a, int m, int stride, int top, int left, double* c, int d)
    {
        // Unrolled register tile: the JIT keeps named Vector512 locals in registers but spills any array of them.
        Vector512<double> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default,
            c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default,
            c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default,
            c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        for (int i = 0; i < m; i++)
        {
            double* row = a + (long)i * stride;
            var v0 = Vector512.Load(row + left);
            var v1 = Vector512.Load(row + left + W);
            var v2 = Vector512.Load(row + left + 2 * W);
            // One broadcast per row of the tile, written out so that the 24 accumulators stay named locals (registers).
            var s = Vector512.Create(row[top]);
            c00 = Vector512.FusedMultiplyAdd(s, v0, c00);
            c01 = Vector512.FusedMultiplyAdd(s, v1, c01);
            c02 = Vector512.FusedMultiplyAdd(s, v2, c02);
            s = Vector512.Create(row[top + 1]);
            c10 = Vector512.FusedMultiplyAdd(s, v0, c10);
            c11 = Vector512.FusedMultiplyAdd(s, v1, c11);
            c12 = Vector512.FusedMultiplyAdd(s, v2, c12);
            s = Vector512.Create(row[top + 2]);
            c20 = Vector512.FusedMultiplyAdd(s, v0, c20);
            c21 = Vector512.FusedMultiplyAdd(s, v1, c21);
            c22 = Vector512.FusedMultiplyAdd(s, v2, c22);
            s = Vector512.Create(row[top + 3]);
            c30 = Vector512.FusedMultiplyAdd(s, v0, c30);
            c31 = Vector512.FusedMultiplyAdd(s, v1, c31);
            c32 = Vector512.FusedMultiplyAdd(s, v2, c32);
            s = Vector512.Create(row[top + 4]);
            c40 = Vector512.FusedMultiplyAdd(s, v0, c40);
            c41 = Vector512.FusedMultiplyAdd(s, v1, c41);
            c42 = Vector512.FusedMultiplyAdd(s, v2, c42);
            s = Vector512.Create(row[top + 5]);
            c50 = Vector512.FusedMultiplyAdd(s, v0, c50);
            c51 = Vector512.FusedMultiplyAdd(s, v1, c51);
            c52 = Vector512.FusedMultiplyAdd(s, v2, c52);
            s = Vector512.Create(row[top + 6]);
            c60 = Vector512.FusedMultiplyAdd(s, v0, c60);
            c61 = Vector512.FusedMultiplyAdd(s, v1, c61);
            c62 = Vector512.FusedMultiplyAdd(s, v2, c62);
            s = Vector512.Create(row[top + 7]);
            c70 = Vector512.FusedMultiplyAdd(s, v0, c70);
            c71 = Vector512.FusedMultiplyAdd(s, v1, c71);
            c72 = Vector512.FusedMultiplyAdd(s, v2, c72);
        }
        Store(c, d, top, left, c00, c01, c02);
        Store(c, d, top + 1, left, c10, c11, c12);
        Store(c, d, top + 2, left, c20, c21, c22);
        Store(c, d, top + 3, left, c30, c31, c32);
        Store(c, d, top + 4, left, c40, c41, c42);
        Store(c, d, top + 5, left, c50, c51, c52);
        Store(c, d, top + 6, left, c60, c61, c62);
        Store(c, d, top + 7, left, c70, c71, c72);
    }

    // C[top..top+8, left..left+16] += Σᵢ A[i, top..top+8]ᵀ A[i, left..left+16].
    static void Tile2(double* a, int m, int stride, int top, int left, double* c, int d)
    {
        // Unrolled register tile: the JIT keeps named Vector512 locals in registers but spills any array of them.
        Vector512<double> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default;
        for (int i = 0; i < m; i++)
        {
            double* row = a + (long)i * stride;
            var v0 = Vector512.Load(row + left);
            var v1 = Vector512.Load(row + left + W);
            var s = Vector512.Create(row[top]);
            c00 = Vector512.FusedMultiplyAdd(s, v0, c00);
            c01 = Vector512.FusedMultiplyAdd(s, v1, c01);
            s = Vector512.Create(row[top + 1]);
            c10 = Vector512.FusedMultiplyAdd(s, v0, c10);
            c11 = Vector512.FusedMultiplyAdd(s, v1, c11);
            s = Vector512.Create(row[top + 2]);
            c20 = Vector512.FusedMultiplyAdd(s, v0, c20);
            c21 = Vector512.FusedMultiplyAdd(s, v1, c21);
            s = Vector512.Create(row[top + 3]);
            c30 = Vector512.FusedMultiplyAdd(s, v0, c30);
            c31 = Vector512.FusedMultiplyAdd(s, v1, c31);
            s = Vector512.Create(row[top + 4]);
            c40 = Vector512.FusedMultiplyAdd(s, v0, c40);
            c41 = Vector512.FusedMultiplyAdd(s, v1, c41);
            s = Vector512.Create(row[top + 5]);
            c50 = Vector512.FusedMultiplyAdd(s, v0, c50);
            c51 = Vector512.FusedMultiplyAdd(s, v1, c51);
            s = Vector512.Create(row[top + 6]);
            c60 = Vector512.FusedMultiplyAdd(s, v0, c60);
            c61 = Vector512.FusedMultiplyAdd(s, v1, c61);
            s = Vector512.Create(row[top + 7]);
            c70 = Vector512.FusedMultiplyAdd(s, v0, c70);
            c71 = Vector512.FusedMultiplyAdd(s, v1, c71);
        }
        Store(c, d, top, left, c00, c01);
        Store(c, d, top + 1, left, c10, c11);
        Store(c, d, top + 2, left, c20, c21);
        Store(c, d, top + 3, left, c30, c31);
        Store(c, d, top + 4, left, c40, c41);
        Store(c, d, top + 5, left, c50, c51);
        Store(c, d, top + 6, left, c60, c61);
        Store(c, d, top + 7, left, c70, c71);
    }

    // C[top..top+8, left..left+8] += Σᵢ A[i, top..top+8]ᵀ A[i, left..left+8].
    static void Tile1(double* a, int m, int stride, int top, int left, double* c, int d)
    {
        // Unrolled register tile: the JIT keeps named Vector512 locals in registers but spills any array of them.
        Vector512<double> c0 = default, c1 = default, c2 = default, c3 = default,
            c4 = default, c5 = default, c6 = default, c7 = default;
        for (int i = 0; i < m; i++)
        {
            double* row = a + (long)i * stride;
            var v = Vector512.Load(row + left);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(row[top]), v, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(row[top + 1]), v, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(row[top + 2]), v, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(row[top + 3]), v, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(row[top + 4]), v, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(row[top + 5]), v, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(row[top + 6]), v, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(row[top + 7]), v, c7);
        }
        Add(c, d, top, left, c0);
        Add(c, d, top + 1, left, c1);
        Add(c, d, top + 2, left, c2);
        Add(c, d, top + 3, left, c3);
        Add(c, d, top + 4, left, c4);
        Add(c, d, top + 5, left, c5);
        Add(c, d, top + 6, left, c6);
        Add(c, d, top + 7, left, c7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(double* c, int d, int row, int left, Vector512<double> v0, Vector512<double> v1)
    {
        Add(c, d, row, left, v0);
        Add(c, d, row, left + W, v1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(double* c, int d, int row, int left, Vector512<double> v0, Vector512<double> v1, Vector512<double> v2)
    {
        Store(c, d, row, left, v0, v1);
        Add(c, d, row, left + 2 * W, v2);
    }

    // Adds one vector of a tile to row `row` of C from column `left`, dropping what falls outside the d x d matrix
    // (the zero padding of A, and the rows of a tile past d).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Add(double* c, int d, int row, int left, Vector512<double> v)
    {
        if (row >= d || left >= d) return;
        double* target = c + (long)row * d + left;
        if (left + W <= d)
        {
            (Vector512.Load(target) + v).Store(target);
            return;
        }
        for (int e = 0; e < d - left; e++) target[e] += v.GetElement(e);
    }
}
