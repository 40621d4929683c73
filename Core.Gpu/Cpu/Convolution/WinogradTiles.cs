namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The tile side of a <see cref="Winograd"/> F(2x2, 3x3) convolution: its geometry, and the input transform shared
/// by the forward and the weight gradient. Each image's channels are first split into the four (row, column) parity planes
/// of their zero-padded copy, where the 16 elements of tile (ty, tx) lie at (ty + i / 2, tx + j / 2) of plane (i % 2, j % 2):
/// whole-vector loads, no gathers. A vector holds 16 consecutive tiles: one tile row of 16, or two of 8, or four of 4 (8 x 8
/// planes). Tiles are numbered image by image over a chunk, and processed a block at a time, so that the 16 transformed
/// matrices of a block stay in L2.</summary>
internal readonly unsafe struct WinogradTiles
{
    public const int Positions = 16, Group = 16;

    /// <summary>Floats of a block's transformed inputs and outputs: 256 KB, a quarter of a core's L2.</summary>
    const int BlockBudget = 1 << 16;

    internal static readonly Vector512<int> EvenPairs = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    internal static readonly Vector512<int> OddPairs = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    static readonly Vector512<int> Deinterleave = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    static readonly Vector256<int> Deinterleave8 = Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7);

    readonly int channels, height, width, plane;

    /// <summary>The geometry of s, with blocks of at most <paramref name="blockBudget"/> floats of transformed inputs and outputs.</summary>
    public WinogradTiles(in Conv2dShape s, int blockBudget = BlockBudget)
    {
        channels = s.InChannels;
        height = s.Height;
        width = s.Width;
        TileColumns = width / 2;
        Pitch = TileColumns + 1;
        Tiles = height / 2 * TileColumns;
        plane = ((height / 2 + 1) * Pitch + 15) & ~15;
        SplitLength = 4 * channels * plane;
        // The split planes of a chunk are read once per block; a quarter of the scratch budget keeps them in L2 too.
        Chunk = ImageChunks.Size(s.Batch, 4L * SplitLength);
        // Whole strips, as many as keep V and its product within the budget, and no more than a chunk holds.
        int strip = NarrowGemm.Strip;
        Block = Math.Max(strip, Math.Min(blockBudget / (Positions * (channels + s.OutChannels)), Chunk * Tiles + strip - 1) / strip * strip);
        RowStride = ConvGemm.RowStride(Block);
        // One cache line between consecutive positions' matrices: the transforms touch all 16 at once, and at power-of-two
        // strides those 16 lines would share one L1 set.
        InputStride = (long)channels * RowStride + 16;
    }

    /// <summary>Tiles per tile row, and the floats between rows of a parity plane (one more).</summary>
    public int TileColumns { get; }
    public int Pitch { get; }
    /// <summary>Tiles per image.</summary>
    public int Tiles { get; }
    /// <summary>Floats of one image's parity planes.</summary>
    public int SplitLength { get; }
    /// <summary>Tiles per block, and the row stride of a block's matrices.</summary>
    public int Block { get; }
    public int RowStride { get; }
    /// <summary>Floats from one position's transformed inputs to the next's.</summary>
    public long InputStride { get; }
    /// <summary>Images per chunk.</summary>
    public int Chunk { get; }

    /// <summary>Even sides, tile rows of 4, 8 or a multiple of 16 tiles, and a whole number of 16-tile vectors per image.</summary>
    public static bool Fit(int h, int w)
    {
        int rows = h / 2, columns = w / 2;
        return h % 2 == 0 && w % 2 == 0 && (columns == 4 || columns == 8 || columns % Group == 0) && rows * columns % Group == 0;
    }

    /// <summary>Parity planes of every channel of images [first, first + count) of x, image by image.</summary>
    public void SplitImages(float* x, int first, int count, float* phases)
    {
        for (int i = 0; i < count; i++)
            for (int ch = 0; ch < channels; ch++)
                Split(x + ((long)(first + i) * channels + ch) * height * width, height, width, phases + ((long)i * channels + ch) * 4 * plane,
                    plane, Pitch);
    }

    /// <summary>V for the chunk's tiles [start, start + n): channel c of position pos at v + pos * InputStride + c * RowStride.</summary>
    public void TransformInputs(float* phases, int start, int n, float* v)
    {
        for (int g = start; g < start + n; g += Group)
            for (int ch = 0; ch < channels; ch++)
                TransformInput(phases + ((long)(g / Tiles) * channels + ch) * 4 * plane, plane, Pitch, TileColumns, g % Tiles,
                    v + (long)ch * RowStride + g - start, InputStride);
    }

    /// <summary>Writes the h x w plane into the parity planes of its zero-padded copy: plane 2a + b holds padded rows a, a + 2,
    /// ... and of those the columns b, b + 2, ..., <paramref name="pitch"/> floats per row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Split(float* x, int h, int w, float* phases, int plane, int pitch)
    {
        // Padded row 0 (first row of planes 0 and 1) and padded row h + 1 (last row of planes 2 and 3) are all padding.
        Simd.Zero(phases, pitch);
        Simd.Zero(phases + plane, pitch);
        Simd.Zero(phases + 2 * plane + h / 2 * pitch, pitch);
        Simd.Zero(phases + 3 * plane + h / 2 * pitch, pitch);
        for (int r = 0; r < h; r++)
        {
            // Input row r is padded row r + 1; its even columns are padded columns 1, 3, ... (parity 1), its odd ones 2, 4, ...
            float* destination = phases + (long)((r + 1) & 1) * 2 * plane + (r + 1) / 2 * pitch;
            float* odd = destination, even = destination + plane;
            SplitRow(x + (long)r * w, w, even, odd + 1);
            even[w / 2] = 0f;
            odd[0] = 0f;
        }
    }

    /// <summary>even[i] = source[2i], odd[i] = source[2i + 1] for i &lt; w / 2, w a multiple of 8; writes nothing further.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void SplitRow(float* source, int w, float* even, float* odd)
    {
        int i = 0;
        for (; i + 32 <= w; i += 32)
        {
            var low = Vector512.Load(source + i);
            var high = Vector512.Load(source + i + 16);
            Avx512F.PermuteVar16x32x2(low, EvenPairs, high).Store(even + i / 2);
            Avx512F.PermuteVar16x32x2(low, OddPairs, high).Store(odd + i / 2);
        }
        for (; i + 16 <= w; i += 16)
        {
            var v = Avx512F.PermuteVar16x32(Vector512.Load(source + i), Deinterleave);
            v.GetLower().Store(even + i / 2);
            v.GetUpper().Store(odd + i / 2);
        }
        for (; i < w; i += 8)
        {
            var v = Avx2.PermuteVar8x32(Vector256.Load(source + i), Deinterleave8);
            v.GetLower().Store(even + i / 2);
            v.GetUpper().Store(odd + i / 2);
        }
    }

    /// <summary>V_pos = (B^T d B)[pos] of one channel's 16 tiles from tile t on, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
    /// into <paramref name="v"/> + pos * <paramref name="positionStride"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TransformInput(float* phases, int plane, int pitch, int columns, int t, float* v, long positionStride)
    {
        int origin = t / columns * pitch + t % columns;
        float* p00 = phases + origin, p01 = p00 + plane, p10 = p00 + 2 * plane, p11 = p00 + 3 * plane;
        // Tile element d[i, j] lies in parity plane (i % 2, j % 2), i / 2 rows and j / 2 columns on. Columns first: t[i, *] = B^T d[i, *].
        Combine(LoadTiles(p00, pitch, columns), LoadTiles(p01, pitch, columns), LoadTiles(p00 + 1, pitch, columns),
            LoadTiles(p01 + 1, pitch, columns), out var t00, out var t01, out var t02, out var t03);
        Combine(LoadTiles(p10, pitch, columns), LoadTiles(p11, pitch, columns), LoadTiles(p10 + 1, pitch, columns),
            LoadTiles(p11 + 1, pitch, columns), out var t10, out var t11, out var t12, out var t13);
        p00 += pitch;
        p01 += pitch;
        p10 += pitch;
        p11 += pitch;
        Combine(LoadTiles(p00, pitch, columns), LoadTiles(p01, pitch, columns), LoadTiles(p00 + 1, pitch, columns),
            LoadTiles(p01 + 1, pitch, columns), out var t20, out var t21, out var t22, out var t23);
        Combine(LoadTiles(p10, pitch, columns), LoadTiles(p11, pitch, columns), LoadTiles(p10 + 1, pitch, columns),
            LoadTiles(p11 + 1, pitch, columns), out var t30, out var t31, out var t32, out var t33);
        // Then rows: V[a, j] = (B^T t[*, j])[a].
        Store(v, positionStride, 0, t00, t10, t20, t30);
        Store(v, positionStride, 1, t01, t11, t21, t31);
        Store(v, positionStride, 2, t02, t12, t22, t32);
        Store(v, positionStride, 3, t03, t13, t23, t33);
    }

    /// <summary>16 consecutive tiles' values from a plane position: one row of 16, or two rows of 8, or four rows of 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> LoadTiles(float* p, int pitch, int columns)
    {
        if (columns >= Group) return Vector512.Load(p);
        if (columns == 8) return Vector512.Create(Vector256.Load(p), Vector256.Load(p + pitch));
        return Vector512.Create(Vector256.Create(Vector128.Load(p), Vector128.Load(p + pitch)),
            Vector256.Create(Vector128.Load(p + 2 * pitch), Vector128.Load(p + 3 * pitch)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Combine(Vector512<float> d0, Vector512<float> d1, Vector512<float> d2, Vector512<float> d3,
        out Vector512<float> r0, out Vector512<float> r1, out Vector512<float> r2, out Vector512<float> r3)
    {
        r0 = d0 - d2;
        r1 = d1 + d2;
        r2 = d2 - d1;
        r3 = d1 - d3;
    }

    /// <summary>Stores B^T applied to column j's four values as positions (a, j), a = 0..3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* v, long positionStride, int j, Vector512<float> t0, Vector512<float> t1, Vector512<float> t2,
        Vector512<float> t3)
    {
        Combine(t0, t1, t2, t3, out var r0, out var r1, out var r2, out var r3);
        r0.Store(v + j * positionStride);
        r1.Store(v + (4 + j) * positionStride);
        r2.Store(v + (8 + j) * positionStride);
        r3.Store(v + (12 + j) * positionStride);
    }

}
