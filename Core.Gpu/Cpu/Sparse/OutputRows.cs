namespace Hybrid.Core.Gpu.Cpu;

/// <summary>One task of <see cref="SparseConv"/>: one output row of a group of output channels, for a staged chunk of images.
/// The group's cells (one per pixel and channel, <c>cell</c> image lanes each: 32, or 16 at batches below 32) stay in a stack tile while the taps are added block of
/// input channels by block of input channels: each block's input rows then serve every channel of the group from cache before
/// the next block is read, instead of every channel streaming all the input rows in turn. The finished cells go back to NCHW.</summary>
internal readonly unsafe struct OutputRows(float* staged, int* offsets, float* values, int* runs, int blocks, float* y, int first, int count, int pw, int cell)
{
    const int Lanes = 8;

    /// <summary>Row <paramref name="row"/> of output channels [o0, o0 + channels), <paramref name="tileWidth"/> pixels at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Compute(in Conv2dShape s, float[]? bias, int row, int o0, int channels, int tileWidth)
    {
        int ow = s.OutWidth, stride = tileWidth * cell;
        long planeIn = (long)(s.Height + 2 * s.PadH) * pw * cell;
        float* tileBase = stackalloc float[channels * stride + 16];
        // On a cache line, so each 16-lane cell is one aligned vector.
        float* tile = Simd.CacheLineAligned(tileBase);
        for (int x0 = 0; x0 < ow; x0 += tileWidth)
        {
            int width = Math.Min(tileWidth, ow - x0);
            for (int g = 0; g < channels; g++) new Span<float>(tile + g * stride, width * cell).Fill(bias?[o0 + g] ?? 0f);
            for (int k = 0; k < blocks; k++)
                for (int g = 0; g < channels; g++)
                {
                    int o = o0 + g;
                    int* run = runs + o * (blocks + 1) + k;
                    float* input = staged + o / s.OutChannelsPerGroup * s.InChannelsPerGroup * planeIn;
                    float* at = input + ((long)row * s.StrideH * pw + (long)x0 * s.StrideW) * cell;
                    if (cell == 32)
                        SparseTaps.Row(at, offsets + run[0], values + run[0], run[1] - run[0], s.StrideW * cell, tile + g * stride, width);
                    else
                        SparseTaps.Row16(at, offsets + run[0], values + run[0], run[1] - run[0], s.StrideW * cell, tile + g * stride, width);
                }
            for (int g = 0; g < channels; g++) WriteBack(s, tile + g * stride, o0 + g, row, x0, width);
        }
    }

    /// <summary>Cells of pixels [x0, x0 + width) to NCHW, image by image, so the stores run along rows instead of striding across
    /// images: eight pixels by eight image lanes become eight images by eight pixels.</summary>
    void WriteBack(in Conv2dShape s, float* cells, int o, int row, int x0, int width)
    {
        int plane = s.OutHeight * s.OutWidth;
        float* outRow = y + ((long)first * s.OutChannels + o) * plane + row * s.OutWidth + x0;
        long imageStride = (long)s.OutChannels * plane;
        int whole = count & ~(Lanes - 1), x8 = 0;
        for (; x8 <= width - Lanes; x8 += Lanes)
            for (int i = 0; i < whole; i += Lanes)
                Simd.Transpose8x8(cells + x8 * cell + i, cell, outRow + i * imageStride + x8, imageStride);
        for (int i = 0; i < count; i++)
        {
            float* dst = outRow + i * imageStride;
            for (int j = i < whole ? x8 : 0; j < width; j++) dst[j] = cells[j * cell + i];
        }
    }
}
