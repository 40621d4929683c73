namespace Hybrid.Core.Gpu.Cpu;

/// <summary>3x3 convolutions at stride 1 and padding 1 by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray 2016):
/// each 2x2 block of outputs comes from a 4x4 tile of inputs with 16 products per channel pair instead of 36, so the
/// multiply-adds, which the direct kernels (<see cref="NarrowConv"/>) already run near the core's peak, drop by 2.25x. A
/// block of tiles at a time (<see cref="WinogradTiles"/>): the tiles are transformed (B^T d B) into V_pos (channels x
/// tiles), the 16 products M_pos = U_pos V_pos run on <see cref="NarrowGemm"/> with the transformed filters U = G g G^T
/// packed once per call, and A^T M A writes each 2x2 block (plus the bias) into y. The input gradient is the same kind of
/// convolution of dY (<see cref="InputGradient"/>); the weight gradient is <see cref="WinogradGradient"/>. F(2x2, 3x3) only
/// adds and subtracts inputs and outputs, and the filter transform is formed in double, so results stay within a few float
/// roundings of the direct sum.</summary>
internal static unsafe class Winograd
{
    const int Positions = WinogradTiles.Positions, Group = WinogradTiles.Group;

    /// <summary>Below this many input channels the transforms cost more than the products they save (the RGB stem).</summary>
    const int MinChannels = 8;

    static readonly Vector512<int> InterleaveLow = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    static readonly Vector512<int> InterleaveHigh = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);

    /// <summary>Whether the shape is one this kernel takes: AVX-512, one group, 3x3 at stride 1, dilation 1 and padding 1 (so
    /// the output is the input's size), planes that tile into whole vectors (<see cref="WinogradTiles.Fit"/>), enough channels
    /// to pay for the transforms, and batches of at least <see cref="ImageChunks.MinBatch"/> images (as <see cref="NarrowConv"/>).</summary>
    public static bool Applies(in Conv2dShape s) =>
        NarrowGemm.Supported && s.Groups == 1 && s.KernelH == 3 && s.KernelW == 3 && s.StrideH == 1 && s.StrideW == 1
        && s.DilationH == 1 && s.DilationW == 1 && s.PadH == 1 && s.PadW == 1 && WinogradTiles.Fit(s.Height, s.Width)
        && s.InChannels >= MinChannels && s.Batch >= ImageChunks.MinBatch && NarrowGemm.Fits(s.OutChannels, s.InChannels);

    /// <summary>y = conv(x, w) + bias; <see cref="Applies"/> must hold.</summary>
    public static void Forward(in Conv2dShape s, float[] x, float[] w, float[]? bias, float[] y)
    {
        int c = s.InChannels, m = s.OutChannels, h = s.Height, width = s.Width;
        var plan = new WinogradTiles(s);
        int block = plan.Block, ld = plan.RowStride, tiles = plan.Tiles, packedLength = NarrowGemm.PackedLength(m, c);
        long vStride = plan.InputStride, mStride = (long)m * ld + 16;
        float[] packed = ArrayPool<float>.Shared.Rent(Positions * packedLength);
        try
        {
            fixed (float* pw = w, pk = packed) PackFilters(m, c, pw, pk, packedLength);
            ImageChunks.Run(s.Batch, plan.Chunk, plan.Chunk * plan.SplitLength, (int)(Positions * (vStride + mStride)), null, null,
                (first, count, worker) =>
            {
                int* taps = stackalloc int[c];
                NarrowGemm.RowTaps(c, ld, taps);
                fixed (float* px = x, pk = packed, pb = bias, py = y, phases = worker.Columns, v = worker.Rows)
                {
                    float* product = v + Positions * vStride;
                    plan.SplitImages(px, first, count, phases);
                    for (int start = 0; start < count * tiles; start += block)
                    {
                        int n = Math.Min(block, count * tiles - start), strips = Columns(n);
                        // A last partial strip is multiplied whole; zeros keep its spare columns finite.
                        for (int pos = 0; pos < Positions && strips > n; pos++)
                            for (int ch = 0; ch < c; ch++) Simd.Zero(v + pos * vStride + (long)ch * ld + n, strips - n);
                        plan.TransformInputs(phases, start, n, v);
                        for (int pos = 0; pos < Positions; pos++)
                            NarrowGemm.Multiply(m, strips, c, pk + (long)pos * packedLength, v + pos * vStride, taps, strips, 0,
                                product + pos * mStride, ld, null, accumulate: false);
                        for (int g = start; g < start + n; g += Group)
                            for (int o = 0; o < m; o++)
                                TransformOutput(product + (long)o * ld + g - start, mStride, plan.TileColumns, g % tiles, pb == null ? 0f : pb[o],
                                    py + ((long)(first + g / tiles) * m + o) * h * width, width);
                    }
                }
            });
        }
        finally { ArrayPool<float>.Shared.Return(packed); }
    }

    /// <summary>The input gradient's convolution: dY (OutChannels planes) convolved at padding 1 with the filter flipped in
    /// space and with its channel axes swapped, W'[c, o, a, b] = W[o, c, 2 - a, 2 - b]; the same shape class as the forward.</summary>
    internal static Conv2dShape Gradient(in Conv2dShape s) => new(s.Batch, s.OutChannels, s.Height, s.Width, s.InChannels, 3, 3, 1, 1, 1, 1);

    /// <summary>Whether <see cref="InputGradient"/> takes the shape: the forward would (<see cref="Applies"/>), and so would the
    /// input gradient's convolution.</summary>
    public static bool InputGradientApplies(in Conv2dShape s) => Applies(s) && Applies(Gradient(s));

    /// <summary>Overwrites gx with dL/dx, a forward Winograd convolution of dY with the flipped, transposed filter.</summary>
    public static void InputGradient(in Conv2dShape s, float[] w, float[] gradOut, float[] gx)
    {
        int c = s.InChannels, m = s.OutChannels;
        float[] flipped = ArrayPool<float>.Shared.Rent(m * c * 9);
        try
        {
            for (int ch = 0; ch < c; ch++)
                for (int o = 0; o < m; o++)
                    for (int t = 0; t < 9; t++)
                        flipped[(ch * m + o) * 9 + t] = w[(o * c + ch) * 9 + 8 - t];
            Forward(Gradient(s), gradOut, flipped, null, gx);
        }
        finally { ArrayPool<float>.Shared.Return(flipped); }
    }

    /// <summary>GEMM columns for this many tiles: whole <see cref="NarrowGemm.Strip"/>s.</summary>
    static int Columns(int tiles) => (tiles + NarrowGemm.Strip - 1) / NarrowGemm.Strip * NarrowGemm.Strip;

    /// <summary>The transformed filters (<see cref="TransformFilters"/>), each position packed for
    /// <see cref="NarrowGemm.Multiply"/>.</summary>
    static void PackFilters(int m, int c, float* w, float* packed, int packedLength)
    {
        float[] transformed = ArrayPool<float>.Shared.Rent(Positions * m * c);
        try
        {
            fixed (float* u = transformed)
            {
                TransformFilters(m, c, w, 9L * c, 9, false, u, (long)m * c);
                for (int pos = 0; pos < Positions; pos++)
                    NarrowGemm.Pack(m, c, u + (long)pos * m * c, c, 1, packed + (long)pos * packedLength);
            }
        }
        finally { ArrayPool<float>.Shared.Return(transformed); }
    }

    /// <summary>U_pos[r, q] = (G g G^T)[pos] for G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], formed in double, of the
    /// <paramref name="rows"/> x <paramref name="columns"/> filters g whose tap k lies at w[r * rowStride + q * columnStride + k]
    /// (at 8 - k when <paramref name="flip"/>: the input gradient's filter read straight from the forward's): position pos's
    /// matrix (row-major) at <paramref name="u"/> + pos * <paramref name="positionStride"/>. Eight filters at a time in
    /// double lanes, each with the same operations in the same order as one at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void TransformFilters(int rows, int columns, float* w, long rowStride, long columnStride, bool flip, float* u,
        long positionStride)
    {
        const int Lanes = 8;
        int padded = (columns + Lanes - 1) & ~(Lanes - 1);
        float[] gathered = ArrayPool<float>.Shared.Rent(9 * padded);
        var half = Vector512.Create(0.5);
        var t = stackalloc Vector512<double>[12];
        float* last = stackalloc float[Lanes];
        try
        {
            fixed (float* taps = gathered)
            {
                new Span<float>(taps, 9 * padded).Clear();
                for (int r = 0; r < rows; r++)
                {
                    // Tap k of every filter of the row side by side, so the lanes load whole vectors.
                    for (int q = 0; q < columns; q++)
                    {
                        float* g = w + r * rowStride + q * columnStride;
                        for (int k = 0; k < 9; k++) taps[k * padded + q] = g[flip ? 8 - k : k];
                    }
                    for (int q = 0; q < padded; q += Lanes)
                    {
                        for (int j = 0; j < 3; j++)
                        {
                            Vector512<double> g0 = Widen(taps + j * padded + q), g1 = Widen(taps + (3 + j) * padded + q),
                                g2 = Widen(taps + (6 + j) * padded + q);
                            t[j] = g0;
                            t[3 + j] = half * (g0 + g1 + g2);
                            t[6 + j] = half * (g0 - g1 + g2);
                            t[9 + j] = g2;
                        }
                        for (int a = 0; a < 4; a++)
                        {
                            Vector512<double> r0 = t[3 * a], r1 = t[3 * a + 1], r2 = t[3 * a + 2];
                            float* at = u + a * 4 * positionStride + (long)r * columns + q;
                            int count = Math.Min(Lanes, columns - q);
                            Store(r0, at, count, last);
                            Store(half * (r0 + r1 + r2), at + positionStride, count, last);
                            Store(half * (r0 - r1 + r2), at + 2 * positionStride, count, last);
                            Store(r2, at + 3 * positionStride, count, last);
                        }
                    }
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(gathered); }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<double> Widen(float* p)
    {
        var v = Vector256.Load(p);
        return Vector512.Create(Vector256.WidenLower(v), Vector256.WidenUpper(v));
    }

    /// <summary>The lanes rounded to float, all eight or the first <paramref name="count"/> (through <paramref name="spare"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(Vector512<double> v, float* at, int count, float* spare)
    {
        var narrow = Vector256.Narrow(v.GetLower(), v.GetUpper());
        if (count == 8)
        {
            narrow.Store(at);
            return;
        }
        narrow.Store(spare);
        for (int i = 0; i < count; i++) at[i] = spare[i];
    }

    /// <summary>Y = A^T M A + bias for 16 tiles of one output channel from tile t on, A^T = [1 1 1 0; 0 1 -1 -1], written as
    /// the 2x2 blocks of the output plane <paramref name="y"/> (rows <paramref name="w"/> floats); M_pos is at
    /// <paramref name="product"/> + pos * <paramref name="positionStride"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TransformOutput(float* product, long positionStride, int columns, int t, float bias, float* y, int w)
    {
        var b = Vector512.Create(bias);
        // Rows of A^T first (over the tile's row index a), then its columns.
        Reduce(product, positionStride, 0, out var s00, out var s10);
        Reduce(product, positionStride, 1, out var s01, out var s11);
        Reduce(product, positionStride, 2, out var s02, out var s12);
        Reduce(product, positionStride, 3, out var s03, out var s13);
        float* top = y + (long)2 * (t / columns) * w + 2 * (t % columns);
        StoreTiles(top, w, columns, s00 + s01 + s02 + b, s01 - s02 - s03 + b);
        StoreTiles(top + w, w, columns, s10 + s11 + s12 + b, s11 - s12 - s13 + b);
    }

    /// <summary>A^T applied to column j of M: s0 = M[0, j] + M[1, j] + M[2, j], s1 = M[1, j] - M[2, j] - M[3, j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Reduce(float* m, long positionStride, int j, out Vector512<float> s0, out Vector512<float> s1)
    {
        var m1 = Vector512.Load(m + (4 + j) * positionStride);
        var m2 = Vector512.Load(m + (8 + j) * positionStride);
        s0 = Vector512.Load(m + j * positionStride) + m1 + m2;
        s1 = m1 - m2 - Vector512.Load(m + (12 + j) * positionStride);
    }

    /// <summary>Writes left[0], right[0], left[1], right[1], ... of 16 tiles into their output rows, which lie two image rows
    /// apart for each tile row (<see cref="WinogradGradient.LoadTiles"/>'s layouts).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreTiles(float* row, int w, int columns, Vector512<float> left, Vector512<float> right)
    {
        var low = Avx512F.PermuteVar16x32x2(left, InterleaveLow, right);
        var high = Avx512F.PermuteVar16x32x2(left, InterleaveHigh, right);
        if (columns >= Group)
        {
            low.Store(row);
            high.Store(row + 16);
        }
        else if (columns == 8)
        {
            low.Store(row);
            high.Store(row + 2 * w);
        }
        else
        {
            low.GetLower().Store(row);
            low.GetUpper().Store(row + 2 * w);
            high.GetLower().Store(row + 4 * w);
            high.GetUpper().Store(row + 6 * w);
        }
    }
}
