namespace Hybrid.Core.Gpu.Reference;

/// <summary>The definitions of GEMM, linear and conv2d as the plainest loops, generic over the element type: the float32
/// Reference backend runs them in double on widened copies, and Core.Nn's float64 path runs them through the public host
/// entry points (<see cref="Blas.Accumulate{T}"/>, <see cref="MaskedLayer{TShape}.Forward{T}"/> of <see cref="Linear"/> and <see cref="Conv2d"/>).
/// Each output element is summed in one fixed order, so both uses give the same numbers as the loops they replaced.</summary>
internal static class ReferenceLoops
{
    /// <summary>C (M x N, row stride ldc, at cOffset) += op(A) op(B): each element adds its K products to its old value in
    /// order of p.</summary>
    public static void GemmAccumulate<T>(bool transA, bool transB, int m, int n, int k, T[] a, int aOffset, int lda,
        T[] b, int bOffset, int ldb, T[] c, int cOffset, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                var sum = c[cOffset + i * ldc + j];
                for (int p = 0; p < k; p++)
                {
                    var av = transA ? a[aOffset + p * lda + i] : a[aOffset + i * lda + p];
                    var bv = transB ? b[bOffset + j * ldb + p] : b[bOffset + p * ldb + j];
                    sum += av * bv;
                }
                c[cOffset + i * ldc + j] = sum;
            }
    }

    /// <summary>y = x W^T + b, overwriting y: each output starts from its bias and adds its products in order.</summary>
    public static void LinearForward<T>(in LinearShape s, T[] x, T[] weight, T[]? bias, T[] y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int n = 0; n < s.Batch; n++)
            if (bias is null) y.AsSpan(n * s.OutFeatures, s.OutFeatures).Clear();
            else bias.CopyTo(y, n * s.OutFeatures);
        GemmAccumulate(false, true, s.Batch, s.OutFeatures, s.InFeatures, x, 0, s.InFeatures, weight, 0, s.InFeatures, y, 0, s.OutFeatures);
    }

    /// <summary>The gradients of a linear layer given dL/dy, overwriting each non-null output: dx = dy W, dW = dy^T x, and
    /// db the sum of dy over the batch.</summary>
    public static void LinearBackward<T>(in LinearShape s, T[] x, T[] weight, T[] gradOut, T[]? gradInput, T[]? gradWeight,
        T[]? gradBias) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int batch = s.Batch, inputs = s.InFeatures, outputs = s.OutFeatures;
        if (gradInput is not null)
        {
            gradInput.AsSpan().Clear();
            GemmAccumulate(false, false, batch, inputs, outputs, gradOut, 0, outputs, weight, 0, inputs, gradInput, 0, inputs);
        }
        if (gradWeight is not null)
        {
            gradWeight.AsSpan().Clear();
            GemmAccumulate(true, false, outputs, inputs, batch, gradOut, 0, outputs, x, 0, inputs, gradWeight, 0, inputs);
        }
        if (gradBias is not null)
        {
            gradBias.AsSpan().Clear();
            for (int n = 0; n < batch; n++)
                for (int o = 0; o < outputs; o++) gradBias[o] += gradOut[n * outputs + o];
        }
    }

    /// <summary>The definition of conv2d, overwriting y: each output is its bias plus the products of every tap whose input
    /// position falls inside the (unpadded) image, in order of channel, kernel row, kernel column.</summary>
    public static void Conv2dForward<T>(in Conv2dShape s, T[] x, T[] weight, T[]? bias, T[] y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shape = s;
        int plane = s.OutHeight * s.OutWidth;
        for (int yi = 0; yi < y.Length; yi++) y[yi] = bias is null ? T.Zero : bias[yi / plane % shape.OutChannels];
        ForEachTap(shape, (xi, yi, wi) => y[yi] += x[xi] * weight[wi]);
    }

    /// <summary>The gradients of conv2d given dL/dy, overwriting each non-null output.</summary>
    public static void Conv2dBackward<T>(in Conv2dShape s, T[] x, T[] weight, T[] gradOut, T[]? gradInput, T[]? gradWeight,
        T[]? gradBias) where T : unmanaged, IFloatingPointIeee754<T>
    {
        gradInput?.AsSpan().Clear();
        gradWeight?.AsSpan().Clear();
        if (gradInput is not null || gradWeight is not null)
            ForEachTap(s, (xi, yi, wi) =>
            {
                if (gradInput is not null) gradInput[xi] += gradOut[yi] * weight[wi];
                if (gradWeight is not null) gradWeight[wi] += gradOut[yi] * x[xi];
            });
        if (gradBias is not null)
        {
            gradBias.AsSpan().Clear();
            int plane = s.OutHeight * s.OutWidth;
            for (int i = 0; i < gradOut.Length; i++) gradBias[i / plane % s.OutChannels] += gradOut[i];
        }
    }

    /// <summary>Calls <paramref name="tap"/>(input index, output index, weight index) for every multiply of the convolution
    /// whose input position falls inside the image, outputs in NCHW order and each output's taps in (c, kh, kw) order.</summary>
    static void ForEachTap(in Conv2dShape s, Action<int, int, int> tap)
    {
        int oh = s.OutHeight, ow = s.OutWidth, cg = s.InChannelsPerGroup, og = s.OutChannelsPerGroup;
        for (int n = 0; n < s.Batch; n++)
            for (int o = 0; o < s.OutChannels; o++)
            {
                int group = o / og;
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                    {
                        int outIndex = ((n * s.OutChannels + o) * oh + y) * ow + x;
                        for (int c = 0; c < cg; c++)
                            for (int kh = 0; kh < s.KernelH; kh++)
                                for (int kw = 0; kw < s.KernelW; kw++)
                                {
                                    int ih = y * s.StrideH - s.PadH + kh * s.DilationH;
                                    int iw = x * s.StrideW - s.PadW + kw * s.DilationW;
                                    if (ih < 0 || ih >= s.Height || iw < 0 || iw >= s.Width) continue;
                                    int inIndex = ((n * s.InChannels + group * cg + c) * s.Height + ih) * s.Width + iw;
                                    int wIndex = ((o * cg + c) * s.KernelH + kh) * s.KernelW + kw;
                                    tap(inIndex, outIndex, wIndex);
                                }
                    }
            }
    }
}
