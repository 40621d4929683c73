namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The forward of a strided convolution straight from a channel-last, zero-padded copy of each image (the copy
/// <see cref="TapGradient"/> makes): 8 output pixels of a row by 32 output channels in 16 ZMM sums, each filter tap and input
/// channel adding one broadcast input value times two vectors of weights (laid out tap-major once per call). ResNet-20's
/// 16-32 stride-2 layer went through <see cref="NarrowConv"/> at about 3x PyTorch's time (one core, batch 64: 5-7 ms against
/// 1.9), where its multiply-adds alone need under 2 ms. Each image's outputs go back to NCHW by 8 x 8 block transposes.</summary>
internal static unsafe class TapForward
{
    const int Pixels = 8, Channels = 32;

    /// <summary>Strided layers of 16 to 64 channels in whole tiles and 8-pixel blocks, at a batch that fills several chunks, except
    /// those deep enough for im2col + OpenBLAS (<see cref="ConvGemm.StridedGemmForward"/>): on ResNet-20's 32-64 stride-2 layer
    /// (K = 288) this kernel took the same time as OpenBLAS (2.2-2.4 ms against 2.1-2.3, one core, batch 64), on its 16-32
    /// layer half of NarrowConv's (2.9 ms against 5.1-6.0).</summary>
    public static bool Applies(in Conv2dShape s) =>
        Avx512F.IsSupported && s.Groups == 1 && (s.StrideH > 1 || s.StrideW > 1) && !ConvGemm.StridedGemmForward(s)
        && s.InChannels % 8 == 0 && s.InChannels >= 16
        && s.OutChannels % Channels == 0 && s.OutChannels <= 64 && s.Width % 8 == 0 && s.OutWidth % Pixels == 0
        && s.Batch >= ImageChunks.MinBatch;

    public static void Forward(in Conv2dShape s, float[] x, float[] w, float[]? bias, float[] y)
    {
        var shape = s;
        int taps = s.KernelH * s.KernelW, c = s.InChannels, o = s.OutChannels, p = s.OutHeight * s.OutWidth;
        int padded = (s.Height + 2 * s.PadH) * (s.Width + 2 * s.PadW) * c;
        // [tap][c][o], so that a tile's 32 output channels are two vectors.
        var tapMajor = ArrayPool<float>.Shared.Rent(s.WeightLength);
        try
        {
            for (int oc = 0; oc < o; oc++)
                for (int ci = 0; ci < c; ci++)
                    for (int t = 0; t < taps; t++)
                        tapMajor[((long)t * c + ci) * o + oc] = w[((long)oc * c + ci) * taps + t];
            ImageChunks.Run(s.Batch, 1, padded, p * o, null, null, (first, count, worker) =>
            {
                fixed (float* px = x, pw = tapMajor, pb = bias, py = y, xp = worker.Columns, yt = worker.Rows)
                    for (int i = first; i < first + count; i++)
                    {
                        TapGradient.PadChannelLast(shape, px + (long)i * c * shape.Height * shape.Width, xp);
                        for (int oy = 0; oy < shape.OutHeight; oy++)
                            for (int ox = 0; ox < shape.OutWidth; ox += Pixels)
                                for (int o0 = 0; o0 < o; o0 += Channels)
                                    Tile(shape, xp, pw, pb, yt, oy, ox, o0);
                        Transposition.Serial(yt, p, o, py + (long)i * o * p);
                    }
            });
        }
        finally
        {
            ArrayPool<float>.Shared.Return(tapMajor);
        }
    }

    /// <summary>Channel-last outputs of pixels (oy, ox .. ox + 7), channels o0 .. o0 + 31, bias included.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile(in Conv2dShape s, float* xp, float* w, float* bias, float* yt, int oy, int ox, int o0)
    {
        int c = s.InChannels, o = s.OutChannels, pw = s.Width + 2 * s.PadW;
        long s1 = (long)s.StrideW * c, s2 = 2 * s1, s3 = 3 * s1, s4 = 4 * s1, s5 = 5 * s1, s6 = 6 * s1, s7 = 7 * s1;
        var low = bias == null ? Vector512<float>.Zero : Vector512.Load(bias + o0);
        var high = bias == null ? Vector512<float>.Zero : Vector512.Load(bias + o0 + 16);
        // Unrolled register tile: pixel k's sums for the two halves of the 32 channels are a_k and b_k, named locals so they
        // stay in ZMM registers.
        Vector512<float> a0 = low, a1 = low, a2 = low, a3 = low, a4 = low, a5 = low, a6 = low, a7 = low;
        Vector512<float> b0 = high, b1 = high, b2 = high, b3 = high, b4 = high, b5 = high, b6 = high, b7 = high;
        float* row = xp + ((long)oy * s.StrideH * pw + (long)ox * s.StrideW) * c;
        for (int kh = 0; kh < s.KernelH; kh++)
            for (int kw = 0; kw < s.KernelW; kw++)
            {
                float* q = row + ((long)kh * s.DilationH * pw + (long)kw * s.DilationW) * c;
                float* wt = w + ((long)(kh * s.KernelW + kw) * c) * o + o0;
                for (int ci = 0; ci < c; ci++, q++, wt += o)
                {
                    Vector512<float> u = Vector512.Load(wt), v = Vector512.Load(wt + 16);
                    var e = Vector512.Create(q[0]);
                    a0 = Avx512F.FusedMultiplyAdd(u, e, a0); b0 = Avx512F.FusedMultiplyAdd(v, e, b0);
                    e = Vector512.Create(q[s1]);
                    a1 = Avx512F.FusedMultiplyAdd(u, e, a1); b1 = Avx512F.FusedMultiplyAdd(v, e, b1);
                    e = Vector512.Create(q[s2]);
                    a2 = Avx512F.FusedMultiplyAdd(u, e, a2); b2 = Avx512F.FusedMultiplyAdd(v, e, b2);
                    e = Vector512.Create(q[s3]);
                    a3 = Avx512F.FusedMultiplyAdd(u, e, a3); b3 = Avx512F.FusedMultiplyAdd(v, e, b3);
                    e = Vector512.Create(q[s4]);
                    a4 = Avx512F.FusedMultiplyAdd(u, e, a4); b4 = Avx512F.FusedMultiplyAdd(v, e, b4);
                    e = Vector512.Create(q[s5]);
                    a5 = Avx512F.FusedMultiplyAdd(u, e, a5); b5 = Avx512F.FusedMultiplyAdd(v, e, b5);
                    e = Vector512.Create(q[s6]);
                    a6 = Avx512F.FusedMultiplyAdd(u, e, a6); b6 = Avx512F.FusedMultiplyAdd(v, e, b6);
                    e = Vector512.Create(q[s7]);
                    a7 = Avx512F.FusedMultiplyAdd(u, e, a7); b7 = Avx512F.FusedMultiplyAdd(v, e, b7);
                }
            }
        float* tile = yt + ((long)oy * s.OutWidth + ox) * o + o0;
        a0.Store(tile); b0.Store(tile + 16); a1.Store(tile + o); b1.Store(tile + o + 16);
        a2.Store(tile + 2 * o); b2.Store(tile + 2 * o + 16); a3.Store(tile + 3 * o); b3.Store(tile + 3 * o + 16);
        a4.Store(tile + 4 * o); b4.Store(tile + 4 * o + 16); a5.Store(tile + 5 * o); b5.Store(tile + 5 * o + 16);
        a6.Store(tile + 6 * o); b6.Store(tile + 6 * o + 16); a7.Store(tile + 7 * o); b7.Store(tile + 7 * o + 16);
    }
}
