namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Dense convolution with <see cref="NarrowGemm"/> and <see cref="NarrowDots"/> where they apply (AVX-512, one group,
/// few enough weights to stay in L2, planes a whole number of 32-pixel strips). Every product runs per image straight between
/// the NCHW tensors and either the chunk's column matrix or, where output rows are whole vectors, the padded input or dY laid
/// out by <see cref="Direct"/>: outputs and their bias are written in place and dY is read in place, so the channel-major
/// copies of <see cref="ConvGemm"/> drop out, and with <see cref="Direct"/> so do im2col and col2im. Batches below
/// <see cref="ImageChunks.MinBatch"/> stay with <see cref="ConvGemm"/>, whose GEMMs can use every core on one image.</summary>
internal static unsafe class NarrowConv
{
    public static bool Applies(in Conv2dShape s) =>
        NarrowGemm.Supported && s.Groups == 1 && s.Batch >= ImageChunks.MinBatch && s.OutHeight * s.OutWidth % NarrowGemm.Strip == 0
        && NarrowGemm.Fits(s.OutChannels, s.FilterLength) && NarrowGemm.Fits(s.FilterLength, s.OutChannels);

    /// <summary>Images per chunk as if the chunk were unfolded: small enough that a core that falls behind leaves work for the
    /// others, large enough that each weight-gradient tile sums over many pixels before its horizontal reduction.</summary>
    static int ChunkSize(in Conv2dShape s) => ImageChunks.Size(s.Batch, (long)s.FilterLength * s.OutHeight * s.OutWidth);

    public static void Forward(in Conv2dShape s, float[] x, float[] w, float[]? bias, float[] y)
    {
        int p = s.OutHeight * s.OutWidth, k = s.FilterLength, m = s.OutChannels, plane = s.InChannels * s.Height * s.Width;
        var shape = s;
        var input = Direct.Input(s);
        bool direct = Direct.InputApplies(s);
        float[] packed = ArrayPool<float>.Shared.Rent(NarrowGemm.PackedLength(m, k));
        try
        {
            fixed (float* pw = w, pk = packed) NarrowGemm.Pack(m, k, pw, k, 1, pk);
            int chunk = ChunkSize(s), ld = ConvGemm.RowStride(chunk * p);
            ImageChunks.Run(s.Batch, chunk, direct ? input.Length : k * ld, 0, null, null, (first, count, worker) =>
            {
                int* taps = stackalloc int[k];
                fixed (float* px = x, pk = packed, pb = bias, py = y, scratch = worker.Columns)
                {
                    if (direct) input.Taps(taps);
                    else
                    {
                        ConvGemm.UnfoldChunk(shape, px, first, count, scratch, ld);
                        NarrowGemm.RowTaps(k, ld, taps);
                    }
                    for (int i = 0; i < count; i++)
                    {
                        float* output = py + (long)(first + i) * m * p;
                        if (direct)
                            NarrowGemm.Multiply(m, p, k, pk, input.Fill(px + (long)(first + i) * plane, scratch), taps, input.RowLength,
                                input.Pitch, output, p, pb, accumulate: false);
                        else NarrowGemm.Multiply(m, p, k, pk, scratch + i * p, taps, p, 0, output, p, pb, accumulate: false);
                    }
                }
            });
        }
        finally { ArrayPool<float>.Shared.Return(packed); }
    }

    public static void Backward(in Conv2dShape s, float[] x, float[] w, float[] gradOut, float[]? gx, float[]? gw, float[]? gb)
    {
        var shape = s;
        int p = s.OutHeight * s.OutWidth, k = s.FilterLength, m = s.OutChannels, plane = s.InChannels * s.Height * s.Width;
        var input = Direct.Input(s);
        bool padded = gw is not null && Direct.WeightGradientApplies(s);
        var gradient = Direct.Gradient(s);
        bool direct = Direct.GradientApplies(s);
        var phases = !direct && PhaseGradient.Applies(s) ? PhaseGradient.Create(s) : null;
        // The input gradient is a convolution of dY with the flipped filter, or four of them with its stride-2 phases, or else
        // W^T dY by columns, then col2im.
        float[] packed = ArrayPool<float>.Shared.Rent(gx is null ? 1 : direct ? Direct.FlippedLength(s) : phases?.PackedLength ?? NarrowGemm.PackedLength(k, m));
        try
        {
            fixed (float* pw = w, pk = packed)
                if (gx is not null && direct) Direct.PackFlipped(s, pw, pk);
                else if (gx is not null && phases is not null) phases.Pack(s, pw, pk);
                else if (gx is not null) NarrowGemm.Pack(k, m, pw, 1, k, pk);
            int chunk = ChunkSize(s), ld = ConvGemm.RowStride(chunk * p);
            // dW reads the phases or, where they do not apply, the column matrix, whose space the column gradient reuses.
            int copies = padded ? chunk * input.Length : 0;
            int columns = (gw is not null && !padded) || (gx is not null && !direct && phases is null) ? k * ld : 0;
            int rows = gx is null ? 0 : direct ? gradient.Length : phases?.ScratchLength ?? 0;
            ImageChunks.Run(s.Batch, chunk, Math.Max(copies, columns), rows, gw, gb, (first, count, worker) =>
            {
                int* taps = stackalloc int[Math.Max(k, gradient.Depth)];
                fixed (float* px = x, pg = gradOut, pgx = gx, pk = packed, scratch = worker.Columns, dy = worker.Rows, pgw = worker.Weight)
                {
                    float* g = pg + (long)first * m * p;
                    if (worker.Bias is not null) ConvGemm.Gather(shape, pg, first, count, null, 0, worker.Bias);
                    if (pgw != null && padded)
                    {
                        for (int i = 0; i < count; i++) input.Fill(px + (long)(first + i) * plane, scratch + (long)i * input.Length);
                        input.Taps(taps);
                        NarrowDots.Accumulate(m, k, count, p, g, (long)m * p, scratch, taps, input.Length, input.RowLength, input.Pitch, pgw);
                    }
                    else if (pgw != null)
                    {
                        ConvGemm.UnfoldChunk(shape, px, first, count, scratch, ld);
                        NarrowGemm.RowTaps(k, ld, taps);
                        NarrowDots.Accumulate(m, k, count, p, g, (long)m * p, scratch, taps, p, p, 0, pgw);
                    }
                    if (pgx == null) return;
                    if (direct)
                    {
                        int planes = shape.Height * shape.Width;
                        gradient.Taps(taps);
                        for (int i = 0; i < count; i++)
                            NarrowGemm.Multiply(shape.InChannels, planes, gradient.Depth, pk, gradient.Fill(g + (long)i * m * p, dy), taps,
                                gradient.RowLength, gradient.Pitch, pgx + (long)(first + i) * plane, planes, null, accumulate: false);
                        return;
                    }
                    if (phases is not null)
                    {
                        for (int i = 0; i < count; i++) phases.Run(g + (long)i * m * p, pk, dy, pgx + (long)(first + i) * plane);
                        return;
                    }
                    // Columns of the column gradient W^T dY, folded back by col2im.
                    NarrowGemm.RowTaps(m, p, taps);
                    for (int i = 0; i < count; i++)
                        NarrowGemm.Multiply(k, p, m, pk, g + (long)i * m * p, taps, p, 0, scratch + i * p, ld, null, accumulate: false);
                    ConvGemm.FoldChunk(shape, scratch, ld, first, count, pgx);
                }
            });
        }
        finally { ArrayPool<float>.Shared.Return(packed); }
    }
}
