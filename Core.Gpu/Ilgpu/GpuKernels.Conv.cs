namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>Convolutions as GEMMs over column matrices (im2col). Images are processed in chunks so the column matrix
/// stays within <see cref="ColumnBudget"/> elements however large the batch; the groups of a convolution are the batch
/// dimension of one GEMM launch, so depthwise layers cost one launch rather than one per channel.</summary>
internal sealed partial class GpuKernels
{
    /// <summary>Upper bound on the elements of a chunk's column matrix (128 MiB of floats), unless one image alone needs more.
    /// Settable (internal) so tests can force many small chunks on small shapes.</summary>
    internal static int ColumnBudget = 1 << 25;

    /// <summary>How many images go into one chunk.</summary>
    static int ChunkImages(in Conv2dShape s)
    {
        long perImage = (long)s.InChannels * s.KernelH * s.KernelW * s.OutHeight * s.OutWidth;
        return (int)Math.Clamp(ColumnBudget / Math.Max(perImage, 1), 1, Math.Max(s.Batch, 1));
    }

    public void Forward(in Conv2dShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float>? bias, DeviceArray<float> y)
    {
        Bind();
        int chunk = ChunkImages(s), rows = s.InChannels * s.KernelH * s.KernelW, plane = s.OutHeight * s.OutWidth;
        using var cols = Scratch((long)rows * chunk * plane);
        using var product = Scratch((long)s.OutChannels * chunk * plane);
        for (int first = 0; first < s.Batch; first += chunk)
        {
            var p = ConvParams.From(s, first, Math.Min(chunk, s.Batch - first));
            im2col(rows * p.Columns, V(x), cols.View, p);
            // Per group g: product[g's channels] (OutPerGroup x Columns) = W_g (OutPerGroup x Filter) * cols_g (Filter x Columns).
            int og = p.OutChannelsPerGroup, kf = p.FilterLength;
            RunGemm(new GemmParams(og, p.Columns, kf, 1f, 0f, false, false, kf, p.Columns, p.Columns,
                og * kf, kf * p.Columns, og * p.Columns, s.Groups), V(weight), cols.View, product.View);
            scatter(p.Images * s.OutChannels * plane, product.View, V(bias ?? y), bias is null ? 0 : 1, V(y), p);
        }
    }

    public void Backward(in Conv2dShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float> gradOut,
        DeviceArray<float>? gradInput, DeviceArray<float>? gradWeight, DeviceArray<float>? gradBias)
    {
        Bind();
        int plane = s.OutHeight * s.OutWidth;
        if (gradBias is not null) ChannelSums(V(gradOut), gradBias, new ElementwiseKernels.SumParams(s.Batch, s.OutChannels, plane));
        if (gradInput is null && gradWeight is null) return;
        if (s.Batch == 0)
        {
            // No chunk runs, yet the weight gradient of an empty batch must still read as zero.
            gradWeight?.Fill(0f);
            return;
        }
        int chunk = ChunkImages(s), rows = s.InChannels * s.KernelH * s.KernelW;
        using var cols = Scratch((long)rows * chunk * plane);
        using var grad = Scratch((long)s.OutChannels * chunk * plane);
        for (int first = 0; first < s.Batch; first += chunk)
        {
            var p = ConvParams.From(s, first, Math.Min(chunk, s.Batch - first));
            int og = p.OutChannelsPerGroup, kf = p.FilterLength, columns = p.Columns;
            gather(p.Images * s.OutChannels * plane, V(gradOut), grad.View, p);
            if (gradWeight is not null)
            {
                // dW_g (OutPerGroup x Filter) += dY_g (OutPerGroup x Columns) * cols_g^T, summed over chunks.
                im2col(rows * columns, V(x), cols.View, p);
                RunGemm(new GemmParams(og, kf, columns, 1f, first == 0 ? 0f : 1f, false, true, columns, columns, kf,
                    og * columns, kf * columns, og * kf, s.Groups), grad.View, cols.View, V(gradWeight));
            }
            if (gradInput is not null && s.Height * s.Width > 0)
            {
                // dcols_g (Filter x Columns) = W_g^T * dY_g, written over the columns the weight gradient has consumed.
                RunGemm(new GemmParams(kf, columns, og, 1f, 0f, true, false, kf, columns, columns,
                    og * kf, og * columns, kf * columns, s.Groups), V(weight), grad.View, cols.View);
                col2im(p.Images * s.InChannels * s.Height * s.Width, cols.View, V(gradInput), p);
            }
        }
    }
}
