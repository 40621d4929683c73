namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Winograd's F(2x2, 3x3) (as <see cref="Winograd"/>) for the large-channel, small-image layers whose transformed
/// filters outgrow <see cref="NarrowGemm"/>: VGG's 256- and 512-channel layers on 4x4 images. There im2col + GEMM
/// (<see cref="WholeBatchGemm"/>) runs 36 multiply-adds per output and channel pair; here the 16 products per 2x2 block are
/// 16 OpenBLAS GEMMs, U_pos (OutChannels x InChannels) times V_pos (InChannels x the chunk's tiles), 2.25x fewer
/// multiply-adds, and no column matrix nine times the input. The batch goes through in as few equal chunks as
/// <see cref="Budget"/> allows; the input and output transforms run image by image across the cores and the 16 GEMMs one
/// per core at a time, each on one thread, so every value's bits follow the shape alone. The input gradient is the same
/// convolution of dY with the flipped, transposed filter, read in place by the filter transform.</summary>
internal static unsafe class WinogradGemm
{
    const int Positions = WinogradTiles.Positions;

    /// <summary>Floats of transformed inputs and products per chunk: 32 MB, a batch of 64 of a 512-channel 4x4 layer.</summary>
    const long Budget = 1L << 23;

    /// <summary>Below this many input channels a 16-way split of the GEMM loses more to packing than the multiply-adds it saves.</summary>
    const int MinChannels = 128;

    /// <summary>One group, 3x3 at stride 1, dilation 1 and padding 1 on even planes of at least 4x4 with at least
    /// <see cref="MinChannels"/> input channels, that <see cref="Winograd"/> does not take and whose weights outweigh an
    /// image's columns (<see cref="WholeBatchGemm.Applies"/>, which would take them otherwise).</summary>
    public static bool Applies(in Conv2dShape s) =>
        s.Groups == 1 && s.KernelH == 3 && s.KernelW == 3 && s.StrideH == 1 && s.StrideW == 1 && s.DilationH == 1 && s.DilationW == 1
        && s.PadH == 1 && s.PadW == 1 && s.Height % 2 == 0 && s.Width % 2 == 0 && s.Height >= 4 && s.Width >= 4
        && s.InChannels >= MinChannels && !Winograd.Applies(s) && WholeBatchGemm.Applies(s);

    /// <summary>Whether <see cref="InputGradient"/> takes the shape: the input gradient's convolution is one this kernel takes.</summary>
    public static bool InputGradientApplies(in Conv2dShape s) => Applies(s) && Applies(Winograd.Gradient(s));

    /// <summary>Overwrites gx with dL/dx; <see cref="InputGradientApplies"/> must hold.</summary>
    public static void InputGradient(in Conv2dShape s, float[] w, float[] gradOut, float[] gx) =>
        Run(Winograd.Gradient(s), gradOut, w, true, null, gx);

    /// <summary>y = conv(x, w) + bias; <see cref="Applies"/> must hold.</summary>
    public static void Forward(in Conv2dShape s, float[] x, float[] w, float[]? bias, float[] y) => Run(s, x, w, false, bias, y);

    /// <summary>y = conv(x, w') + bias, where w' is w, or when <paramref name="flipped"/> the input gradient's filter of the
    /// convolution whose weights w are (W'[c, o, a, b] = W[o, c, 2 - a, 2 - b], read in place).</summary>
    static void Run(in Conv2dShape s, float[] x, float[] w, bool flipped, float[]? bias, float[] y)
    {
        var shape = s;
        int c = s.InChannels, m = s.OutChannels, tiles = s.Height / 2 * (s.Width / 2);
        int most = (int)Math.Clamp(Budget / ((long)Positions * (c + m) * tiles), 1, Math.Max(1, s.Batch));
        int chunks = (s.Batch + most - 1) / most, chunk = Math.Max(1, (s.Batch + chunks - 1) / Math.Max(1, chunks));
        int ld = ConvGemm.RowStride(chunk * tiles);
        // One cache line between positions: the transforms touch all 16 matrices at once, and at power-of-two strides their
        // lines would share one L1 set.
        long uStride = (long)m * c + 16, vStride = (long)c * ld + 16, mStride = (long)m * ld + 16;
        float[] filters = ArrayPool<float>.Shared.Rent((int)(Positions * uStride)), inputs = ArrayPool<float>.Shared.Rent((int)(Positions * vStride)),
            products = ArrayPool<float>.Shared.Rent((int)(Positions * mStride));
        try
        {
            fixed (float* pw = w, pu = filters, px = x, py = y, pv = inputs, pm = products)
            {
                var (aw, au, ax, ay, av, am) = ((nint)pw, (nint)pu, (nint)px, (nint)py, (nint)pv, (nint)pm);
                // Filter (r, q) is W[r, q] of the forward, or W[q, r] flipped of the convolution whose input gradient this is.
                long rowStride = flipped ? 9 : 9L * c, columnStride = flipped ? 9L * m : 9;
                Ranges.ByWork(m, (long)c * 9, (from, rows) =>
                    Winograd.TransformFilters(rows, c, (float*)aw + from * rowStride, rowStride, columnStride, flipped, (float*)au + (long)from * c,
                        uStride));
                long plane = (long)s.Height * s.Width;
                for (int first = 0; first < s.Batch; first += chunk)
                {
                    int count = Math.Min(chunk, s.Batch - first), n = count * tiles, start = first;
                    // Channel by channel, each row of V_pos written from its start to its end.
                    Ranges.ByWork(c, (long)count * plane, (from, channels) =>
                    {
                        for (int ch = from; ch < from + channels; ch++)
                            for (int i = 0; i < count; i++)
                                TransformInput((float*)ax + ((long)(start + i) * shape.InChannels + ch) * plane, shape.Height, shape.Width,
                                    (float*)av + (long)ch * ld + i * tiles, vStride);
                    });
                    Ranges.Items(Positions, pos => Sgemm.Serial(new GemmShape(Transpose.No, Transpose.No, m, n, c, 1f, c, ld, 0f, ld),
                        (float*)au + pos * uStride, (float*)av + pos * vStride, (float*)am + pos * mStride));
                    Ranges.ByWork(m, (long)count * plane, (from, channels) =>
                    {
                        for (int o = from; o < from + channels; o++)
                            for (int i = 0; i < count; i++)
                                TransformOutput((float*)am + (long)o * ld + i * tiles, mStride, bias is null ? 0f : bias[o],
                                    (float*)ay + ((long)(start + i) * shape.OutChannels + o) * plane, shape.Height, shape.Width);
                    });
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(filters);
            ArrayPool<float>.Shared.Return(inputs);
            ArrayPool<float>.Shared.Return(products);
        }
    }

    /// <summary>V_pos = (B^T d B)[pos] of every 4x4 tile d of one h x w plane (zero-padded by one), B^T = [1 0 -1 0; 0 1 1 0;
    /// 0 -1 1 0; 0 1 0 -1]: tile t's value of position pos at v[pos * positionStride + t].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TransformInput(float* x, int h, int w, float* v, long positionStride)
    {
        int columns = w / 2;
        float* d = stackalloc float[16];
        for (int ty = 0; ty < h / 2; ty++)
            for (int tx = 0; tx < columns; tx++)
            {
                // Rows first: t[a, j] = (B^T d)[a, j] over the tile's padded rows 2ty - 1 .. 2ty + 2 and columns 2tx - 1 .. 2tx + 2.
                for (int j = 0; j < 4; j++)
                {
                    int column = 2 * tx - 1 + j;
                    bool inside = column >= 0 && column < w;
                    float* at = x + (long)(2 * ty - 1) * w + column;
                    float d0 = inside && ty > 0 ? at[0] : 0f, d1 = inside ? at[w] : 0f, d2 = inside ? at[2 * w] : 0f,
                        d3 = inside && ty < h / 2 - 1 ? at[3 * w] : 0f;
                    d[j] = d0 - d2;
                    d[4 + j] = d1 + d2;
                    d[8 + j] = d2 - d1;
                    d[12 + j] = d1 - d3;
                }
                // Then columns: V[a, b] = (t B)[a, b].
                float* out0 = v + ty * columns + tx;
                for (int a = 0; a < 4; a++)
                {
                    float t0 = d[4 * a], t1 = d[4 * a + 1], t2 = d[4 * a + 2], t3 = d[4 * a + 3];
                    float* at = out0 + 4 * a * positionStride;
                    at[0] = t0 - t2;
                    at[positionStride] = t1 + t2;
                    at[2 * positionStride] = t2 - t1;
                    at[3 * positionStride] = t1 - t3;
                }
            }
    }

    /// <summary>Y = A^T M A + bias for every 2x2 block of one h x w output plane, A^T = [1 1 1 0; 0 1 -1 -1]: tile t's product
    /// of position pos at m[pos * positionStride + t].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void TransformOutput(float* m, long positionStride, float bias, float* y, int h, int w)
    {
        int columns = w / 2;
        for (int ty = 0; ty < h / 2; ty++)
            for (int tx = 0; tx < columns; tx++)
            {
                float* at = m + ty * columns + tx;
                // Rows of A^T first: s0[j] = M[0, j] + M[1, j] + M[2, j], s1[j] = M[1, j] - M[2, j] - M[3, j].
                float s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
                Reduce(at, positionStride, 0, ref s00, ref s10);
                Reduce(at, positionStride, 1, ref s01, ref s11);
                Reduce(at, positionStride, 2, ref s02, ref s12);
                Reduce(at, positionStride, 3, ref s03, ref s13);
                float* top = y + (long)2 * ty * w + 2 * tx;
                top[0] = s00 + s01 + s02 + bias;
                top[1] = s01 - s02 - s03 + bias;
                top[w] = s10 + s11 + s12 + bias;
                top[w + 1] = s11 - s12 - s13 + bias;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Reduce(float* m, long positionStride, int j, ref float s0, ref float s1)
    {
        float m1 = m[(4 + j) * positionStride], m2 = m[(8 + j) * positionStride];
        s0 = m[j * positionStride] + m1 + m2;
        s1 = m1 - m2 - m[(12 + j) * positionStride];
    }
}
