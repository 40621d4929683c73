namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Dense convolution as im2col + GEMM over chunks of images (<see cref="ImageChunks"/>), so the column matrix stays
/// in a core's cache however large the batch (layers whose weights outweigh an image's columns go to
/// <see cref="WholeBatchGemm"/> instead). In a chunk, every channel is unfolded once, each group is one GEMM whose N is
/// images x pixels, and results move to or from NCHW in the same pass that adds the bias or sums its gradient.</summary>
internal static unsafe class ConvGemm
{
    public static void Forward(in Conv2dShape s, float[] x, float[] w, float[]? bias, float[] y)
    {
        // The first family whose shapes these are; im2col over image chunks takes the rest.
        if (Pointwise.Applies(s)) Pointwise.Forward(s, x, w, bias, y);
        else if (Winograd.Applies(s)) Winograd.Forward(s, x, w, bias, y);
        else if (WinogradGemm.Applies(s)) WinogradGemm.Forward(s, x, w, bias, y);
        else if (TapForward.Applies(s)) TapForward.Forward(s, x, w, bias, y);
        else if (NarrowConv.Applies(s) && !StridedGemmForward(s)) NarrowConv.Forward(s, x, w, bias, y);
        else if (WholeBatchGemm.Applies(s) && !StridedGemmForward(s)) WholeBatchGemm.Forward(s, x, w, bias, y);
        else ForwardChunks(s, x, w, bias, y);
    }

    /// <summary>Whether a strided forward goes to im2col + OpenBLAS over image chunks: filters of at least 256 taps (ResNet-20's
    /// 32-64 stride-2 layer, K = 288), where the GEMM is deep enough for OpenBLAS and the chunk's columns stay in cache. On that
    /// layer (one core, batch 64) it took 3.3-3.4 ms of CPU against 9.4 for <see cref="NarrowConv"/> and 5.2-6.1 for the
    /// whole-batch GEMM; on 16-32 stride 2 (K = 144) the two were even, so narrower filters stay with NarrowConv.</summary>
    internal static bool StridedGemmForward(in Conv2dShape s) => (s.StrideH > 1 || s.StrideW > 1) && s.FilterLength >= 256;

    static void ForwardChunks(in Conv2dShape s, float[] x, float[] w, float[]? bias, float[] y)
    {
        var shape = s;
        int p = s.OutHeight * s.OutWidth, rows = s.InChannels * s.KernelH * s.KernelW;
        int chunk = ImageChunks.Size(s.Batch, (long)(rows + s.OutChannels) * p), ld = RowStride(chunk * p);
        ImageChunks.Run(s.Batch, chunk, rows * ld, s.OutChannels * ld, null, null, (first, count, worker) =>
        {
            fixed (float* px = x, pw = w, py = y, col = worker.Columns, outs = worker.Rows)
                ForwardChunk(shape, px, pw, bias, py, first, count, col, outs, worker.Alone);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ForwardChunk(in Conv2dShape s, float* x, float* w, float[]? bias, float* y, int first, int count, float* col, float* outs,
        bool parallel)
    {
        int p = s.OutHeight * s.OutWidth, k = s.FilterLength, og = s.OutChannelsPerGroup, n = count * p, ld = RowStride(n);
        UnfoldChunk(s, x, first, count, col, ld);
        for (int g = 0; g < s.Groups; g++)
            Sgemm.Run(new GemmShape(Transpose.No, Transpose.No, og, n, k, 1f, k, ld, 0f, ld), w + (long)g * og * k, col + (long)g * k * ld,
                outs + (long)g * og * ld, parallel);
        for (int i = 0; i < count; i++)
            for (int o = 0; o < s.OutChannels; o++)
            {
                float* src = outs + (long)o * ld + i * p, dst = y + ((long)(first + i) * s.OutChannels + o) * p;
                if (bias is null) Simd.Copy(dst, src, p);
                else Simd.AddScalar(dst, src, bias[o], p);
            }
    }

    public static void Backward(in Conv2dShape s, float[] x, float[] w, float[] gradOut, float[]? gx, float[]? gw, float[]? gb)
    {
        if (Pointwise.Applies(s))
        {
            Pointwise.Backward(s, x, w, gradOut, gx, gw, gb);
            return;
        }
        if (gx is not null && Winograd.InputGradientApplies(s))
        {
            Winograd.InputGradient(s, w, gradOut, gx);
            gx = null;
        }
        if (gx is not null && WinogradGemm.InputGradientApplies(s))
        {
            WinogradGemm.InputGradient(s, w, gradOut, gx);
            gx = null;
        }
        if (gw is not null && TapGradient.Applies(s))
        {
            TapGradient.Weight(s, x, gradOut, gw, gb);
            gw = null;
            gb = null;
        }
        if (gw is not null && ChunkedWeightGradient(s))
        {
            BackwardChunks(s, 1, x, w, gradOut, null, gw, gb);
            gw = null;
            gb = null;
        }
        // Where the weights outweigh an image's columns, the whole-batch GEMM gives the weight gradient in about a third of
        // the Winograd gradient's time (measured on VGG's 256-256 8x8 and ResNet-20's 64-64 8x8 layers at batch 64).
        if (gw is not null && Winograd.Applies(s) && !WholeBatchGemm.Applies(s))
        {
            WinogradGradient.Weight(s, x, gradOut, gw, gb);
            gw = null;
            gb = null;
        }
        if (gx is null && gw is null && gb is null) return;
        if (NarrowConv.Applies(s))
        {
            NarrowConv.Backward(s, x, w, gradOut, gx, gw, gb);
            return;
        }
        if (WholeBatchGemm.Applies(s))
        {
            WholeBatchGemm.Backward(s, x, w, gradOut, gx, gw, gb);
            return;
        }
        long floatsPerImage = (long)(s.InChannels * s.KernelH * s.KernelW + s.OutChannels) * s.OutHeight * s.OutWidth;
        BackwardChunks(s, ImageChunks.Size(s.Batch, floatsPerImage), x, w, gradOut, gx, gw, gb);
    }

    /// <summary>Whether the weight gradient comes from im2col + OpenBLAS GEMM over image chunks, whatever kernel takes the forward
    /// and the input gradient: one group, at least 16 input channels (a GEMM N of 9 x 16 and up on 3x3 filters) and at most
    /// 64 output channels, ResNet-20's 16- to 64-channel layers. There each chunk's GEMM is M = at most 64 rows of dY against a
    /// few hundred filter taps, K = the chunk's pixels, and OpenBLAS runs it at 1.3x to 1.8x the speed of the
    /// Winograd gradient, <see cref="NarrowDots"/> or the whole-batch GEMM (whose column matrix for the whole batch falls out
    /// of cache), measured per layer at batch 64 on one core. With more output channels the Winograd gradient's 2.25x fewer
    /// multiply-adds and the whole-batch GEMM's single packing of a large dY pay off, and with 3 input channels the GEMM is
    /// too narrow. Its chunks are single images: one image's columns (at most 590 KB on these layers) and OpenBLAS's packed
    /// copy of them share a core's L2, where the chunks <see cref="ImageChunks.Size"/> picks (up to 1 MB of columns) did not;
    /// one core, batch 64, CPU ms, chunked as before against single images: 32-32 16x16 5.4-6.3 against 4.8-5.2, 64-64 8x8
    /// 4.7-5.1 against 4.3-4.4, 32-64 stride 2 2.8-3.9 against 2.4, 16-32 stride 2 3.4 against 3.0 (16-16 32x32 had
    /// single images already).</summary>
    internal static bool ChunkedWeightGradient(in Conv2dShape s) => s.Groups == 1 && s.InChannels >= 16 && s.OutChannels <= 64;

    /// <summary>The backward over chunks of <paramref name="chunk"/> images, a number that must follow from the shape alone
    /// (it fixes the order in which the weight gradient's partial sums are added).</summary>
    static void BackwardChunks(in Conv2dShape s, int chunk, float[] x, float[] w, float[] gradOut, float[]? gx, float[]? gw, float[]? gb)
    {
        var shape = s;
        int p = s.OutHeight * s.OutWidth, rows = s.InChannels * s.KernelH * s.KernelW;
        int chunkStride = RowStride(chunk * p);
        bool gemms = gx is not null || gw is not null;
        ImageChunks.Run(s.Batch, chunk, gemms ? rows * chunkStride : 0, gemms ? s.OutChannels * chunkStride : 0, gw, gb, (first, count, worker) =>
        {
            fixed (float* px = x, pw = w, pg = gradOut, pgx = gx, col = worker.Columns, dy = worker.Rows, pgw = worker.Weight)
            {
                int ld = RowStride(count * p);
                // Only the bias gradient wanted: sum dY and skip the copies and GEMMs.
                Gather(shape, pg, first, count, gemms ? dy : null, ld, worker.Bias);
                if (gemms) BackwardChunk(shape, px, pw, pgx, pgw, first, count, col, dy, worker.Alone);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BackwardChunk(in Conv2dShape s, float* x, float* w, float* gx, float* gw, int first, int count, float* col, float* dy,
        bool parallel)
    {
        int p = s.OutHeight * s.OutWidth, k = s.FilterLength, og = s.OutChannelsPerGroup, n = count * p, ld = RowStride(n);
        if (gw != null) UnfoldChunk(s, x, first, count, col, ld);
        for (int g = 0; g < s.Groups; g++)
        {
            float* dyGroup = dy + (long)g * og * ld, colGroup = col + (long)g * k * ld;
            if (gw != null)
                Sgemm.Run(new GemmShape(Transpose.No, Transpose.Yes, og, k, n, 1f, ld, ld, 1f, k), dyGroup, colGroup, gw + (long)g * og * k, parallel);
            // The group's columns are spent, so their space takes the column gradient W_g^T dY_g.
            if (gx != null)
                Sgemm.Run(new GemmShape(Transpose.Yes, Transpose.No, k, n, og, 1f, k, ld, 0f, ld), w + (long)g * og * k, dyGroup, colGroup, parallel);
        }
        if (gx != null) FoldChunk(s, col, ld, first, count, gx);
    }

    /// <summary>Overwrites the input gradient of images [first, first + count) from their column gradients.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void FoldChunk(in Conv2dShape s, float* col, int ld, int first, int count, float* gx)
    {
        int p = s.OutHeight * s.OutWidth, k = s.FilterLength, cg = s.InChannelsPerGroup;
        for (int i = 0; i < count; i++)
            for (int c = 0; c < s.InChannels; c++)
                Im2Col.Fold(s, col + (long)(c / cg) * k * ld, ld, i * p, c % cg,
                    gx + ((long)(first + i) * s.InChannels + c) * s.Height * s.Width);
    }

    /// <summary>Row stride of the chunk's matrices: the columns in use rounded up to 16 floats, plus 16 more when that lands on a
    /// multiple of 1 KB, because rows 4 KB apart map to the same cache sets and the GEMMs ran at half speed on such strides.</summary>
    internal static int RowStride(int columns)
    {
        int ld = (columns + 15) & ~15;
        return ld % 256 == 0 ? ld + 16 : ld;
    }

    /// <summary>Columns of images [first, first + count) for every channel; channel c's rows start at c * KH * KW, so group g's
    /// K rows start at g * K.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void UnfoldChunk(in Conv2dShape s, float* x, int first, int count, float* col, int ld)
    {
        int plane = s.Height * s.Width, p = s.OutHeight * s.OutWidth;
        for (int i = 0; i < count; i++)
            for (int c = 0; c < s.InChannels; c++)
                Im2Col.Unfold(s, x + ((long)(first + i) * s.InChannels + c) * plane, c, col, ld, i * p);
    }

    /// <summary>Copies dY of images [first, first + count) into channel-major rows (row o = those images' planes side by side)
    /// when <paramref name="rows"/> is given, adding each plane's sum to <paramref name="biasSums"/>[o] on the way; channels
    /// [<paramref name="fromChannel"/>, + <paramref name="channels"/>) only, when given.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Gather(in Conv2dShape s, float* gradOut, int first, int count, float* rows, int ld, double[]? biasSums,
        int fromChannel = 0, int channels = -1)
    {
        int p = s.OutHeight * s.OutWidth, end = channels < 0 ? s.OutChannels : fromChannel + channels;
        for (int o = fromChannel; o < end; o++)
        {
            double sum = 0;
            for (int i = 0; i < count; i++)
            {
                float* src = gradOut + ((long)(first + i) * s.OutChannels + o) * p;
                if (rows != null) Simd.Copy(rows + (long)o * ld + i * p, src, p);
                if (biasSums is not null) sum += Simd.Sum(src, p);
            }
            if (biasSums is not null) biasSums[o] += sum;
        }
    }
}
