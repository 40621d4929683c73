namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Convolutions whose weights outweigh an image's columns (an output plane no larger than the output channel count:
/// the 256- and 512-channel layers of a CIFAR VGG on 8x8 to 2x2 images) as im2col + GEMM with the batch folded into N.
/// <see cref="ConvGemm"/>'s per-core image chunks hold a few images each on such layers, so every chunk packs the megabytes of
/// weights again for a GEMM a few dozen columns wide, and in the backward pass reads and writes a weight-gradient partial sum
/// of the same size for a GEMM a few dozen columns deep. Here the batch goes through in as few equal chunks as
/// <see cref="ColumnBudget"/> allows (one for batch 64 on every such VGG layer but the 8x8 one), one after the other, and each
/// GEMM is split across the cores in slabs of C by <see cref="Sgemm"/>; unfolding, folding and the copies to and from NCHW
/// run image by image (or channel by channel) across the cores. The weight gradient sums the chunks in batch order, so its
/// bits depend on the shape alone.</summary>
internal static unsafe class WholeBatchGemm
{
    /// <summary>Floats of column matrix per chunk: 32 MB, which holds the batch of 64 of a 512-channel 4x4 layer.</summary>
    const long ColumnBudget = 1L << 23;

    /// <summary>One group, and an output plane of at most as many pixels as there are output channels, so that the weight
    /// matrix (OutChannels x FilterLength) is at least as large as one image's columns (FilterLength x plane).</summary>
    public static bool Applies(in Conv2dShape s) => s.Groups == 1 && s.OutHeight * s.OutWidth <= s.OutChannels;

    /// <summary>Images per chunk: the batch in as few equal chunks as the column budget allows.</summary>
    static int ChunkSize(in Conv2dShape s)
    {
        int most = (int)Math.Clamp(ColumnBudget / Math.Max(1L, (long)s.FilterLength * s.OutHeight * s.OutWidth), 1, Math.Max(1, s.Batch));
        int chunks = (s.Batch + most - 1) / most;
        return Math.Max(1, (s.Batch + chunks - 1) / Math.Max(1, chunks));
    }

    /// <summary>y = conv(x, w) + bias; <see cref="Applies"/> must hold.</summary>
    public static void Forward(in Conv2dShape s, float[] x, float[] w, float[]? bias, float[] y)
    {
        var shape = s;
        int p = s.OutHeight * s.OutWidth, k = s.FilterLength, m = s.OutChannels, chunk = ChunkSize(s), ld = ConvGemm.RowStride(chunk * p);
        float[] columns = ArrayPool<float>.Shared.Rent(k * ld), rows = ArrayPool<float>.Shared.Rent(m * ld);
        try
        {
            fixed (float* px = x, pw = w, py = y, col = columns, outs = rows)
            {
                var (ax, ay, ac, ao) = ((nint)px, (nint)py, (nint)col, (nint)outs);
                for (int first = 0; first < s.Batch; first += chunk)
                {
                    int count = Math.Min(chunk, s.Batch - first), start = first;
                    Unfold(shape, (float*)ax, start, count, (float*)ac, ld);
                    Sgemm.Run(new GemmShape(Transpose.No, Transpose.No, m, count * p, k, 1f, k, ld, 0f, ld), pw, col, outs);
                    Ranges.Items(count, i =>
                    {
                        for (int o = 0; o < shape.OutChannels; o++)
                        {
                            float* src = (float*)ao + (long)o * ld + i * p, dst = (float*)ay + ((long)(start + i) * shape.OutChannels + o) * p;
                            if (bias is null) Simd.Copy(dst, src, p);
                            else Simd.AddScalar(dst, src, bias[o], p);
                        }
                    });
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(columns);
            ArrayPool<float>.Shared.Return(rows);
        }
    }

    /// <summary>Gradients of input (overwritten), weight and bias (overwritten, summed over the batch) for those given;
    /// <see cref="Applies"/> must hold.</summary>
    public static void Backward(in Conv2dShape s, float[] x, float[] w, float[] gradOut, float[]? gx, float[]? gw, float[]? gb)
    {
        var shape = s;
        int p = s.OutHeight * s.OutWidth, k = s.FilterLength, m = s.OutChannels, chunk = ChunkSize(s), ld = ConvGemm.RowStride(chunk * p);
        bool gemms = gx is not null || gw is not null;
        if (gw is not null && s.Batch == 0) Array.Clear(gw);
        var biasSums = gb is null ? null : new double[m];
        float[] columns = ArrayPool<float>.Shared.Rent(gemms ? k * ld : 1), rows = ArrayPool<float>.Shared.Rent(gemms ? m * ld : 1);
        try
        {
            fixed (float* px = x, pw = w, pg = gradOut, pgx = gx, pgw = gw, col = columns, dy = rows)
            {
                var (ag, ady) = ((nint)pg, (nint)dy);
                for (int first = 0; first < s.Batch; first += chunk)
                {
                    int count = Math.Min(chunk, s.Batch - first), n = count * p, start = first;
                    // Channels split across cores; each channel's bias sum adds its images in batch order.
                    Ranges.ByWork(m, n, (from, channels) =>
                        ConvGemm.Gather(shape, (float*)ag, start, count, gemms ? (float*)ady : null, ld, biasSums, from, channels));
                    if (gw is not null)
                    {
                        Unfold(shape, px, start, count, col, ld);
                        Sgemm.Run(new GemmShape(Transpose.No, Transpose.Yes, m, k, n, 1f, ld, ld, first == 0 ? 0f : 1f, k), dy, col, pgw);
                    }
                    if (gx is not null)
                    {
                        // The columns are spent, so their space takes the column gradient W^T dY.
                        Sgemm.Run(new GemmShape(Transpose.Yes, Transpose.No, k, n, m, 1f, k, ld, 0f, ld), pw, dy, col);
                        var (ac, agx) = ((nint)col, (nint)pgx);
                        Ranges.Items(count, i => ConvGemm.FoldChunk(shape, (float*)ac + i * p, ld, start + i, 1, (float*)agx));
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(columns);
            ArrayPool<float>.Shared.Return(rows);
        }
        if (gb is not null)
            for (int o = 0; o < m; o++) gb[o] = (float)biasSums![o];
    }

    /// <summary>The columns of images [first, first + count), image by image across the cores.</summary>
    static void Unfold(in Conv2dShape s, float* x, int first, int count, float* col, int ld)
    {
        var shape = s;
        var (ax, ac) = ((nint)x, (nint)col);
        int p = s.OutHeight * s.OutWidth;
        Ranges.Items(count, i => ConvGemm.UnfoldChunk(shape, (float*)ax, first + i, 1, (float*)ac + i * p, ld));
    }
}
