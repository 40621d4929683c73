namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The weight gradient of a <see cref="Winograd"/> convolution in the same tile domain. The forward computes
/// y_t = A^T (U ⊙ V_t) A with U = G g G^T, so dL/dU = Σ_t (A dy_t A^T) ⊙ V_t and dL/dg = G^T (dL/dU) G: per block of tiles
/// the input tiles are transformed as in the forward (V), the matching 2x2 blocks of dY into 4x4 tiles (A dy A^T), and
/// each of the 16 positions adds the K x C dot products over the block's tiles (<see cref="NarrowDots"/>, 36 x fewer taps
/// than a 3x3 filter's but 16 of them: 2.25 x fewer multiply-adds than dY col^T). The 16 K x C sums are folded back into
/// the 3x3 filter once, in double.</summary>
internal static unsafe class WinogradGradient
{
    const int Positions = WinogradTiles.Positions;

    /// <summary>Floats of a block's V and transformed dY: 4 MB, far past L2, because each block ends in horizontal sums of
    /// every K x C dot product (<see cref="NarrowDots"/>), and on blocks sized for L2 those cost more than the cache misses.</summary>
    const int BlockBudget = 1 << 20;

    /// <summary>Overwrites gw with dL/dW, and gb (when given) with dL/db; <see cref="Winograd.Applies"/> must hold.</summary>
    public static void Weight(in Conv2dShape s, float[] x, float[] gradOut, float[] gw, float[]? gb)
    {
        int c = s.InChannels, m = s.OutChannels, h = s.Height, width = s.Width;
        var plan = new WinogradTiles(s, BlockBudget);
        int block = plan.Block, ld = plan.RowStride, tiles = plan.Tiles;
        long vStride = plan.InputStride, gStride = (long)m * block + 16;
        var shape = s;
        // The 16 positions' K x C sums, per worker and then merged, before they fold back into the 3x3 filter.
        var sums = new float[Positions * m * c];
        ImageChunks.Run(s.Batch, plan.Chunk, plan.Chunk * plan.SplitLength, (int)(Positions * (vStride + gStride)), sums, gb,
            (first, count, worker) =>
        {
            int* taps = stackalloc int[c];
            NarrowGemm.RowTaps(c, ld, taps);
            fixed (float* px = x, pg = gradOut, phases = worker.Columns, v = worker.Rows, pu = worker.Weight)
            {
                float* dy = v + Positions * vStride;
                if (worker.Bias is not null) ConvGemm.Gather(shape, pg, first, count, null, 0, worker.Bias);
                plan.SplitImages(px, first, count, phases);
                for (int start = 0; start < count * tiles; start += block)
                {
                    // Blocks hold whole images' tiles (a multiple of 16), so no column past n needs zeros.
                    int n = Math.Min(block, count * tiles - start);
                    plan.TransformInputs(phases, start, n, v);
                    for (int g = start; g < start + n; g += WinogradTiles.Group)
                        for (int o = 0; o < m; o++)
                            TransformGradient(pg + ((long)(first + g / tiles) * m + o) * h * width, width, plan.TileColumns, g % tiles,
                                dy + (long)o * n + g - start, gStride);
                    for (int pos = 0; pos < Positions; pos++)
                        NarrowDots.Accumulate(m, c, 1, n, dy + pos * gStride, 0, v + pos * vStride, taps, 0, n, 0,
                            pu + (long)pos * m * c);
                }
            }
        });
        fixed (float* pt = sums, pw = gw) Fold(m, c, pt, pw);
    }

    /// <summary>A dy A^T of 16 tiles of one output channel's gradient from tile t on, A = [1 0; 1 1; 1 -1; 0 -1], into
    /// <paramref name="destination"/> + pos * <paramref name="positionStride"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TransformGradient(float* gradOut, int w, int columns, int t, float* destination, long positionStride)
    {
        float* top = gradOut + (long)2 * (t / columns) * w + 2 * (t % columns);
        LoadTiles(top, w, columns, out var d00, out var d01);
        LoadTiles(top + w, w, columns, out var d10, out var d11);
        // Rows first: e[a, q] = (A dy)[a, q], then columns: (e A^T)[a, b].
        Store(destination, positionStride, 0, d00, d01);
        Store(destination, positionStride, 1, d00 + d10, d01 + d11);
        Store(destination, positionStride, 2, d00 - d10, d01 - d11);
        Store(destination, positionStride, 3, -d10, -d11);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(float* destination, long positionStride, int a, Vector512<float> e0, Vector512<float> e1)
    {
        float* at = destination + 4 * a * positionStride;
        e0.Store(at);
        (e0 + e1).Store(at + positionStride);
        (e0 - e1).Store(at + 2 * positionStride);
        (-e1).Store(at + 3 * positionStride);
    }

    /// <summary>The left and right pixels of 16 tiles' 2x2 blocks on one of their rows: the inverse of the forward's stores.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void LoadTiles(float* row, int w, int columns, out Vector512<float> left, out Vector512<float> right)
    {
        Vector512<float> low, high;
        if (columns >= WinogradTiles.Group)
        {
            low = Vector512.Load(row);
            high = Vector512.Load(row + 16);
        }
        else if (columns == 8)
        {
            low = Vector512.Load(row);
            high = Vector512.Load(row + 2 * w);
        }
        else
        {
            low = Vector512.Create(Vector256.Load(row), Vector256.Load(row + 2 * w));
            high = Vector512.Create(Vector256.Load(row + 4 * w), Vector256.Load(row + 6 * w));
        }
        left = Avx512F.PermuteVar16x32x2(low, WinogradTiles.EvenPairs, high);
        right = Avx512F.PermuteVar16x32x2(low, WinogradTiles.OddPairs, high);
    }

    /// <summary>gw[o, c] = G^T dU[o, c] G, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], from the 16 position sums
    /// dU_pos[o, c] at sums[(pos * m + o) * c + ch].</summary>
    static void Fold(int m, int c, float* sums, float* gw)
    {
        double* u = stackalloc double[16];
        double* t = stackalloc double[12];
        for (int o = 0; o < m; o++)
            for (int ch = 0; ch < c; ch++)
            {
                for (int pos = 0; pos < 16; pos++) u[pos] = sums[((long)pos * m + o) * c + ch];
                // t[kh, b] = Σ_a G[a, kh] dU[a, b], then gw[kh, kw] = Σ_b t[kh, b] G[b, kw].
                for (int b = 0; b < 4; b++)
                {
                    t[b] = u[b] + 0.5 * (u[4 + b] + u[8 + b]);
                    t[4 + b] = 0.5 * (u[4 + b] - u[8 + b]);
                    t[8 + b] = 0.5 * (u[4 + b] + u[8 + b]) + u[12 + b];
                }
                float* g = gw + ((long)o * c + ch) * 9;
                for (int kh = 0; kh < 3; kh++)
                {
                    double* r = t + 4 * kh;
                    g[3 * kh] = (float)(r[0] + 0.5 * (r[1] + r[2]));
                    g[3 * kh + 1] = (float)(0.5 * (r[1] - r[2]));
                    g[3 * kh + 2] = (float)(0.5 * (r[1] + r[2]) + r[3]);
                }
            }
    }
}
