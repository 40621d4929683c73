namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Convolutions that need no im2col: a 1x1 kernel with stride 1 and no padding reads each image's channels as they lie
/// ((C, H*W) row-major is already the column matrix), so every image and group is a GEMM straight on the NCHW tensors.</summary>
internal static unsafe class Pointwise
{
    public static bool Applies(in Conv2dShape s) =>
        s.KernelH == 1 && s.KernelW == 1 && s.StrideH == 1 && s.StrideW == 1 && s.PadH == 0 && s.PadW == 0;

    public static void Forward(in Conv2dShape s, float[] x, float[] w, float[]? bias, float[] y)
    {
        var shape = s;
        int p = s.Height * s.Width, og = s.OutChannelsPerGroup, cg = s.InChannelsPerGroup;
        ImageChunks.Run(s.Batch, ImageChunks.Size(s.Batch, (long)(s.InChannels + s.OutChannels) * p), 0, 0, null, null, (first, count, worker) =>
        {
            fixed (float* px = x, pw = w, py = y)
                for (int n = first; n < first + count; n++)
                    for (int g = 0; g < shape.Groups; g++)
                    {
                        float* dst = py + ((long)n * shape.OutChannels + g * og) * p;
                        // The bias goes in first and the GEMM adds onto it, while this image's outputs are still in cache.
                        if (bias is not null)
                            for (int o = 0; o < og; o++) new Span<float>(dst + (long)o * p, p).Fill(bias[g * og + o]);
                        Sgemm.Run(GemmShape.Dense(Transpose.No, Transpose.No, og, p, cg, 1f, bias is null ? 0f : 1f), pw + (long)g * og * cg,
                            px + ((long)n * shape.InChannels + g * cg) * p, dst, worker.Alone);
                    }
        });
    }

    public static void Backward(in Conv2dShape s, float[] x, float[] w, float[] gradOut, float[]? gx, float[]? gw, float[]? gb)
    {
        var shape = s;
        int p = s.Height * s.Width, og = s.OutChannelsPerGroup, cg = s.InChannelsPerGroup;
        ImageChunks.Run(s.Batch, ImageChunks.Size(s.Batch, (long)(s.InChannels + s.OutChannels) * p), 0, 0, gw, gb, (first, count, worker) =>
        {
            fixed (float* px = x, pw = w, pg = gradOut, pgx = gx, pgw = worker.Weight)
            {
                ConvGemm.Gather(shape, pg, first, count, null, 0, worker.Bias);
                for (int n = first; n < first + count; n++)
                    for (int g = 0; g < shape.Groups; g++)
                    {
                        float* dy = pg + ((long)n * shape.OutChannels + g * og) * p, xs = px + ((long)n * shape.InChannels + g * cg) * p;
                        if (pgx != null)
                            Sgemm.Run(GemmShape.Dense(Transpose.Yes, Transpose.No, cg, p, og), pw + (long)g * og * cg, dy,
                                pgx + ((long)n * shape.InChannels + g * cg) * p, worker.Alone);
                        if (pgw != null)
                            Sgemm.Run(GemmShape.Dense(Transpose.No, Transpose.Yes, og, cg, p, 1f, 1f), dy, xs, pgw + (long)g * og * cg, worker.Alone);
                    }
            }
        });
    }
}
