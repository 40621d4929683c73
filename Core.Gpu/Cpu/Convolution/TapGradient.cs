namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The weight gradient of a convolution from channel-last copies of one image's zero-padded input and of its output
/// gradient, with no column matrix: for each filter tap (kh, kw), dW[:, :, kh, kw] += sum over output pixels q of
/// dY[q, :] x X[q * stride + tap, :], a rank-one update per pixel held in ZMM registers (16 output channels by 16 input
/// channels, one broadcast multiply-add per input channel). On ResNet-20's layers im2col + OpenBLAS spent more time writing
/// the nine-fold column matrix and packing it than in its multiply-adds (mask-training profile: im2col 9.8%, OpenBLAS's
/// packing 9.9%, its kernel 11.3% of the epoch); here each image is moved once, by 8 x 8 block transposes. The images are
/// <see cref="ImageChunks"/> of one image each, so the partial sums are added in an order fixed by the shape alone and the
/// bits do not depend on the core count.</summary>
internal static unsafe class TapGradient
{
    /// <summary>Channels of one register tile on either side: one ZMM vector of output channels, 16 accumulators.</summary>
    const int Block = 16;

    /// <summary>The shapes this kernel serves: those whose weight gradient would otherwise go through
    /// <see cref="ConvGemm.ChunkedWeightGradient"/>, with whole tiles of channels, rows of whole 8-pixel blocks for the
    /// transposes, and a batch that fills several chunks (a single image leaves the cores to OpenBLAS's threads).</summary>
    public static bool Applies(in Conv2dShape s) =>
        Avx512F.IsSupported && ConvGemm.ChunkedWeightGradient(s) && s.InChannels % Block == 0 && s.OutChannels % Block == 0
        && s.Width % 8 == 0 && s.OutHeight * s.OutWidth % 8 == 0 && s.Batch >= ImageChunks.MinBatch;

    /// <summary>Overwrites <paramref name="gw"/> with dL/dW and, when given, <paramref name="gb"/> with dL/db.</summary>
    public static void Weight(in Conv2dShape s, float[] x, float[] gradOut, float[] gw, float[]? gb)
    {
        var shape = s;
        int padded = (s.Height + 2 * s.PadH) * (s.Width + 2 * s.PadW) * s.InChannels;
        int outputs = s.OutHeight * s.OutWidth * s.OutChannels;
        // Partial sums tap-major ([tap][c][o]), so a tile's 16 output channels are one vector; reordered once at the end.
        var tapMajor = ArrayPool<float>.Shared.Rent(s.WeightLength);
        try
        {
            ImageChunks.Run(s.Batch, 1, padded, outputs, tapMajor, gb, (first, count, worker) =>
            {
                fixed (float* px = x, pg = gradOut, xp = worker.Columns, dy = worker.Rows, part = worker.Weight)
                    for (int i = first; i < first + count; i++)
                    {
                        if (worker.Bias is not null) ConvGemm.Gather(shape, pg, i, 1, null, 0, worker.Bias);
                        PadChannelLast(shape, px + (long)i * shape.InChannels * shape.Height * shape.Width, xp);
                        Transposition.Serial(pg + (long)i * outputs, shape.OutChannels, shape.OutHeight * shape.OutWidth, dy);
                        Accumulate(shape, xp, dy, part);
                    }
            });
            int taps = s.KernelH * s.KernelW;
            for (int t = 0; t < taps; t++)
                for (int c = 0; c < s.InChannels; c++)
                    for (int o = 0; o < s.OutChannels; o++)
                        gw[((long)o * s.InChannels + c) * taps + t] = tapMajor[((long)t * s.InChannels + c) * s.OutChannels + o];
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tapMajor);
        }
    }

    /// <summary>The image's C x H x W planes as (H + 2 padH) x (W + 2 padW) pixels of C channels each, zero outside (W and C
    /// multiples of 8).</summary>
    internal static void PadChannelLast(in Conv2dShape s, float* image, float* padded)
    {
        int c = s.InChannels, plane = s.Height * s.Width, pw = s.Width + 2 * s.PadW;
        Simd.Zero(padded, (s.Height + 2 * s.PadH) * pw * c);
        for (int c0 = 0; c0 < c; c0 += 8)
            for (int y = 0; y < s.Height; y++)
                for (int x0 = 0; x0 < s.Width; x0 += 8)
                    Simd.Transpose8x8(image + (long)c0 * plane + y * s.Width + x0, plane,
                        padded + ((long)(y + s.PadH) * pw + x0 + s.PadW) * c + c0, c);
    }

    /// <summary>Adds one image's gradient to the tap-major partial sums.</summary>
    static void Accumulate(in Conv2dShape s, float* padded, float* dy, float* part)
    {
        for (int kh = 0; kh < s.KernelH; kh++)
            for (int kw = 0; kw < s.KernelW; kw++)
                for (int c0 = 0; c0 < s.InChannels; c0 += Block)
                    for (int o0 = 0; o0 < s.OutChannels; o0 += Block)
                        Tile(s, padded, dy, part + (((long)kh * s.KernelW + kw) * s.InChannels + c0) * s.OutChannels + o0, kh, kw, c0, o0);
    }

    /// <summary>part[c * O + o] += sum over output pixels of dY[pixel, o0 + o] * X[input pixel of the tap, c0 + c], for 16 c and
    /// 16 o.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile(in Conv2dShape s, float* padded, float* dy, float* part, int kh, int kw, int c0, int o0)
    {
        int c = s.InChannels, o = s.OutChannels, pw = s.Width + 2 * s.PadW;
        long step = (long)s.StrideW * c;
        // Unrolled register tile: the 16 sums stay in ZMM registers across the image only as named locals.
        Vector512<float> a0 = Vector512.Load(part), a1 = Vector512.Load(part + o), a2 = Vector512.Load(part + 2 * o);
        Vector512<float> a3 = Vector512.Load(part + 3 * o), a4 = Vector512.Load(part + 4 * o), a5 = Vector512.Load(part + 5 * o);
        Vector512<float> a6 = Vector512.Load(part + 6 * o), a7 = Vector512.Load(part + 7 * o), a8 = Vector512.Load(part + 8 * o);
        Vector512<float> a9 = Vector512.Load(part + 9 * o), a10 = Vector512.Load(part + 10 * o), a11 = Vector512.Load(part + 11 * o);
        Vector512<float> a12 = Vector512.Load(part + 12 * o), a13 = Vector512.Load(part + 13 * o);
        Vector512<float> a14 = Vector512.Load(part + 14 * o), a15 = Vector512.Load(part + 15 * o);
        for (int y = 0; y < s.OutHeight; y++)
        {
            float* xq = padded + ((long)(y * s.StrideH + kh * s.DilationH) * pw + kw * s.DilationW) * c + c0;
            float* g = dy + (long)y * s.OutWidth * o + o0;
            for (int x = 0; x < s.OutWidth; x++, xq += step, g += o)
            {
                var d = Vector512.Load(g);
                a0 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[0]), a0);
                a1 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[1]), a1);
                a2 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[2]), a2);
                a3 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[3]), a3);
                a4 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[4]), a4);
                a5 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[5]), a5);
                a6 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[6]), a6);
                a7 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[7]), a7);
                a8 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[8]), a8);
                a9 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[9]), a9);
                a10 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[10]), a10);
                a11 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[11]), a11);
                a12 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[12]), a12);
                a13 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[13]), a13);
                a14 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[14]), a14);
                a15 = Avx512F.FusedMultiplyAdd(d, Vector512.Create(xq[15]), a15);
            }
        }
        a0.Store(part); a1.Store(part + o); a2.Store(part + 2 * o); a3.Store(part + 3 * o);
        a4.Store(part + 4 * o); a5.Store(part + 5 * o); a6.Store(part + 6 * o); a7.Store(part + 7 * o);
        a8.Store(part + 8 * o); a9.Store(part + 9 * o); a10.Store(part + 10 * o); a11.Store(part + 11 * o);
        a12.Store(part + 12 * o); a13.Store(part + 13 * o); a14.Store(part + 14 * o); a15.Store(part + 15 * o);
    }
}
