namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The two products of diag and spherical with a block's extended rows z (<see cref="MixtureRows"/>), as
/// register-tiled AVX-512 loops rather than OpenBLAS dgemm: at 256 x 65 x 16 OpenBLAS's small-matrix kernels ran at about
/// half the FMA ports' rate. The log-densities z Q go 8 rows x 16 components at a time (per column of z, eight broadcasts
/// and two loads of Q feed 16 multiply-adds); the moments rᵀ z go 8 components x 24 columns at a time over the rows
/// (eight broadcasts of r and three loads of z feed 24), the tiles kept in memory between slices of rows so that a
/// slice's z is read from L1. Every output sums in a fixed order, whatever the rows around it.</summary>
internal static unsafe class MixtureProducts
{
    const int W = 8;

    /// <summary>Whether these loops run (AVX-512 present); elsewhere the products go to <see cref="DoubleBlas"/>.</summary>
    public static bool Supported => Vector512.IsHardwareAccelerated;

    /// <summary>Doubles that <see cref="AddMoments"/> may read past the last extended row's end.</summary>
    public const int Slack = 3 * W;

    /// <summary>Doubles a buffer needs beyond its length to start at <see cref="Aligned"/>.</summary>
    public const int LineSlack = W;

    /// <summary>The first 64-byte boundary at or after p: the tiles' 512-bit loads from there never straddle two cache
    /// lines (from a managed array's 8- or 16-byte alignment nearly every one did, at two line reads each).</summary>
    public static double* Aligned(double* p) => (double*)(((nuint)p + 63) & ~(nuint)63);

    /// <summary>Q (columns x k) with its rows padded to whole pairs of vectors (zeros past k), as <see cref="Densities"/>
    /// reads it: a pinned array whose values start at <see cref="Aligned"/> of its address.</summary>
    public static double[] Padded(double[] q, int columns, int k)
    {
        int width = Width(k);
        var padded = GC.AllocateArray<double>(columns * width + LineSlack, pinned: true);
        fixed (double* start = padded)
        {
            double* target = Aligned(start);
            for (int c = 0; c < columns; c++)
                for (int j = 0; j < k; j++) target[c * width + j] = q[c * k + j];
        }
        return padded;
    }

    /// <summary>The padded row length of <see cref="Padded"/>.</summary>
    public static int Width(int k) => (k + 2 * W - 1) & ~(2 * W - 1);

    /// <summary>output[i k + j] = Σ_c z[i zStride + c] q[c Width(k) + j] for <paramref name="rows"/> rows;
    /// <paramref name="scratch"/> holds rows x Width(k) doubles where Width(k) differs from k.</summary>
    public static void Densities(double* z, int zStride, int rows, int columns, double* q, int k, double* output,
        double* scratch)
    {
        int width = Width(k);
        double* target = width == k ? output : scratch;
        for (int i = 0; i < rows; i += W)
        {
            // A short last tile repeats its last row; only the real rows are written.
            int count = Math.Min(W, rows - i);
            for (int j = 0; j < width; j += 2 * W)
                DensityTile(z + (long)i * zStride, zStride, count, columns, q + j, width, target + (long)i * width + j,
                    width);
        }
        if (target == output) return;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < k; j++) output[(long)i * k + j] = scratch[(long)i * width + j];
    }

    static void DensityTile(double* z, int zStride, int count, int columns, double* q, int qStride, double* c, int cStride)
    {
        double* z0 = z, z1 = z + Math.Min(1, count - 1) * zStride, z2 = z + Math.Min(2, count - 1) * zStride,
            z3 = z + Math.Min(3, count - 1) * zStride, z4 = z + Math.Min(4, count - 1) * zStride,
            z5 = z + Math.Min(5, count - 1) * zStride, z6 = z + Math.Min(6, count - 1) * zStride,
            z7 = z + Math.Min(7, count - 1) * zStride;
        // Unrolled register tile: the JIT keeps named Vector512 locals in registers but spills any array of them.
        Vector512<double> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default;
        for (int s = 0; s < columns; s++)
        {
            double* row = q + (long)s * qStride;
            var v0 = Vector512.Load(row);
            var v1 = Vector512.Load(row + W);
            var b = Vector512.Create(z0[s]);
            c00 = Vector512.FusedMultiplyAdd(b, v0, c00);
            c01 = Vector512.FusedMultiplyAdd(b, v1, c01);
            b = Vector512.Create(z1[s]);
            c10 = Vector512.FusedMultiplyAdd(b, v0, c10);
            c11 = Vector512.FusedMultiplyAdd(b, v1, c11);
            b = Vector512.Create(z2[s]);
            c20 = Vector512.FusedMultiplyAdd(b, v0, c20);
            c21 = Vector512.FusedMultiplyAdd(b, v1, c21);
            b = Vector512.Create(z3[s]);
            c30 = Vector512.FusedMultiplyAdd(b, v0, c30);
            c31 = Vector512.FusedMultiplyAdd(b, v1, c31);
            b = Vector512.Create(z4[s]);
            c40 = Vector512.FusedMultiplyAdd(b, v0, c40);
            c41 = Vector512.FusedMultiplyAdd(b, v1, c41);
            b = Vector512.Create(z5[s]);
            c50 = Vector512.FusedMultiplyAdd(b, v0, c50);
            c51 = Vector512.FusedMultiplyAdd(b, v1, c51);
            b = Vector512.Create(z6[s]);
            c60 = Vector512.FusedMultiplyAdd(b, v0, c60);
            c61 = Vector512.FusedMultiplyAdd(b, v1, c61);
            b = Vector512.Create(z7[s]);
            c70 = Vector512.FusedMultiplyAdd(b, v0, c70);
            c71 = Vector512.FusedMultiplyAdd(b, v1, c71);
        }
        StorePair(c, c00, c01);
        if (count > 1) StorePair(c + cStride, c10, c11);
        if (count > 2) StorePair(c + 2 * cStride, c20, c21);
        if (count > 3) StorePair(c + 3 * cStride, c30, c31);
        if (count > 4) StorePair(c + 4 * cStride, c40, c41);
        if (count > 5) StorePair(c + 5 * cStride, c50, c51);
        if (count > 6) StorePair(c + 6 * cStride, c60, c61);
        if (count > 7) StorePair(c + 7 * cStride, c70, c71);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StorePair(double* target, Vector512<double> v0, Vector512<double> v1)
    {
        v0.Store(target);
        v1.Store(target + W);
    }

    /// <summary>Doubles of the partial moments that <see cref="AddMoments"/> carries from one slice of rows to the
    /// next: one 8 x 24 tile per group of eight components and 24 columns.</summary>
    public static int PartialLength(int k, int width) => (k + W - 1) / W * ((width + 3 * W - 1) / (3 * W)) * TileLength;

    const int TileLength = W * 3 * W;

    /// <summary>partial += rᵀ z over <paramref name="rows"/> rows, in row order, with <paramref name="partial"/> as
    /// <see cref="PartialLength"/> lays it out (zeros to begin with); z is read up to <see cref="Slack"/> doubles past
    /// the end of its last row's <paramref name="width"/> columns. Every sum carries on where the last call left it, so
    /// slices of rows (that keep their z in L1) give the same sums as one call over all of them. A last group of
    /// columns narrower than 24 runs as a tile of one or two vectors, not three.</summary>
    public static void AddMoments(double* r, int k, int rows, double* z, int zStride, int width, double* partial)
    {
        for (int j = 0; j < k; j += W)
            for (int c = 0; c < width; c += 3 * W, partial += TileLength)
            {
                int left = width - c;
                if (left > 2 * W) MomentTile<Three>(r, k, j, rows, z + c, zStride, partial);
                else if (left > W) MomentTile<Two>(r, k, j, rows, z + c, zStride, partial);
                else MomentTile<One>(r, k, j, rows, z + c, zStride, partial);
            }
    }

    /// <summary>m[j width + c] = the moments that <see cref="AddMoments"/> summed in <paramref name="partial"/>, for
    /// j &lt; k and c &lt; width.</summary>
    public static void Extract(double* partial, int k, int width, double* m)
    {
        for (int j = 0; j < k; j += W)
            for (int c = 0; c < width; c += 3 * W, partial += TileLength)
                for (int t = 0; t < W && j + t < k; t++)
                    for (int e = 0; e < 3 * W && c + e < width; e++) m[(j + t) * width + c + e] = partial[t * 3 * W + e];
    }

    // How many vectors of columns a moment tile spans (a constant of each instantiation, so the JIT drops the rest).
    interface IVectors
    {
        static abstract int Count { get; }
    }

    readonly struct One : IVectors
    {
        public static int Count => 1;
    }

    readonly struct Two : IVectors
    {
        public static int Count => 2;
    }

    readonly struct Three : IVectors
    {
        public static int Count => 3;
    }

    // tile[t 24 + e] += Σᵢ r[i k + min(j + t, k - 1)] z[i zStride + e] for e < 8 V.Count: a short last group of
    // components repeats its last one, which the caller does not keep.
    static void MomentTile<V>(double* r, int k, int j, int rows, double* z, int zStride, double* tile)
        where V : struct, IVectors
    {
        bool two = V.Count > 1, three = V.Count > 2;
        int o0 = j, o1 = Math.Min(j + 1, k - 1), o2 = Math.Min(j + 2, k - 1), o3 = Math.Min(j + 3, k - 1),
            o4 = Math.Min(j + 4, k - 1), o5 = Math.Min(j + 5, k - 1), o6 = Math.Min(j + 6, k - 1),
            o7 = Math.Min(j + 7, k - 1);
        // Unrolled register tile: the JIT keeps named Vector512 locals in registers but spills any array of them.
        Vector512<double> c00 = Load(tile, 0), c01 = LoadIf(two, tile, 1), c02 = LoadIf(three, tile, 2),
            c10 = Load(tile, 3), c11 = LoadIf(two, tile, 4), c12 = LoadIf(three, tile, 5),
            c20 = Load(tile, 6), c21 = LoadIf(two, tile, 7), c22 = LoadIf(three, tile, 8),
            c30 = Load(tile, 9), c31 = LoadIf(two, tile, 10), c32 = LoadIf(three, tile, 11),
            c40 = Load(tile, 12), c41 = LoadIf(two, tile, 13), c42 = LoadIf(three, tile, 14),
            c50 = Load(tile, 15), c51 = LoadIf(two, tile, 16), c52 = LoadIf(three, tile, 17),
            c60 = Load(tile, 18), c61 = LoadIf(two, tile, 19), c62 = LoadIf(three, tile, 20),
            c70 = Load(tile, 21), c71 = LoadIf(two, tile, 22), c72 = LoadIf(three, tile, 23);
        for (int i = 0; i < rows; i++)
        {
            double* row = z + (long)i * zStride, weights = r + (long)i * k;
            var v0 = Vector512.Load(row);
            var v1 = LoadIf(two, row, 1);
            var v2 = LoadIf(three, row, 2);
            // One broadcast weight per component row of the tile, written out so the accumulators stay named locals.
            var s = Vector512.Create(weights[o0]);
            c00 = Vector512.FusedMultiplyAdd(s, v0, c00);
            if (two) c01 = Vector512.FusedMultiplyAdd(s, v1, c01);
            if (three) c02 = Vector512.FusedMultiplyAdd(s, v2, c02);
            s = Vector512.Create(weights[o1]);
            c10 = Vector512.FusedMultiplyAdd(s, v0, c10);
            if (two) c11 = Vector512.FusedMultiplyAdd(s, v1, c11);
            if (three) c12 = Vector512.FusedMultiplyAdd(s, v2, c12);
            s = Vector512.Create(weights[o2]);
            c20 = Vector512.FusedMultiplyAdd(s, v0, c20);
            if (two) c21 = Vector512.FusedMultiplyAdd(s, v1, c21);
            if (three) c22 = Vector512.FusedMultiplyAdd(s, v2, c22);
            s = Vector512.Create(weights[o3]);
            c30 = Vector512.FusedMultiplyAdd(s, v0, c30);
            if (two) c31 = Vector512.FusedMultiplyAdd(s, v1, c31);
            if (three) c32 = Vector512.FusedMultiplyAdd(s, v2, c32);
            s = Vector512.Create(weights[o4]);
            c40 = Vector512.FusedMultiplyAdd(s, v0, c40);
            if (two) c41 = Vector512.FusedMultiplyAdd(s, v1, c41);
            if (three) c42 = Vector512.FusedMultiplyAdd(s, v2, c42);
            s = Vector512.Create(weights[o5]);
            c50 = Vector512.FusedMultiplyAdd(s, v0, c50);
            if (two) c51 = Vector512.FusedMultiplyAdd(s, v1, c51);
            if (three) c52 = Vector512.FusedMultiplyAdd(s, v2, c52);
            s = Vector512.Create(weights[o6]);
            c60 = Vector512.FusedMultiplyAdd(s, v0, c60);
            if (two) c61 = Vector512.FusedMultiplyAdd(s, v1, c61);
            if (three) c62 = Vector512.FusedMultiplyAdd(s, v2, c62);
            s = Vector512.Create(weights[o7]);
            c70 = Vector512.FusedMultiplyAdd(s, v0, c70);
            if (two) c71 = Vector512.FusedMultiplyAdd(s, v1, c71);
            if (three) c72 = Vector512.FusedMultiplyAdd(s, v2, c72);
        }
        // Written out for the same reason: one store of each named accumulator in use.
        StoreTriple<V>(tile, c00, c01, c02);
        StoreTriple<V>(tile + 3 * W, c10, c11, c12);
        StoreTriple<V>(tile + 6 * W, c20, c21, c22);
        StoreTriple<V>(tile + 9 * W, c30, c31, c32);
        StoreTriple<V>(tile + 12 * W, c40, c41, c42);
        StoreTriple<V>(tile + 15 * W, c50, c51, c52);
        StoreTriple<V>(tile + 18 * W, c60, c61, c62);
        StoreTriple<V>(tile + 21 * W, c70, c71, c72);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<double> LoadIf(bool used, double* start, int vector) =>
        used ? Vector512.Load(start + vector * W) : default;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<double> Load(double* tile, int vector) => Vector512.Load(tile + vector * W);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreTriple<V>(double* target, Vector512<double> v0, Vector512<double> v1, Vector512<double> v2)
        where V : struct, IVectors
    {
        v0.Store(target);
        if (V.Count > 1) v1.Store(target + W);
        if (V.Count > 2) v2.Store(target + 2 * W);
    }
}
