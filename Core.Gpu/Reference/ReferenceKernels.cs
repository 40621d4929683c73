namespace Hybrid.Core.Gpu.Reference;

/// <summary>Every kernel as the plainest loops that state its definition; sums are accumulated in double.
/// Other backends are tested against these.</summary>
internal sealed class ReferenceKernels : IKernels
{
    static float[] D(DeviceArray<float> a) => HostArray<float>.Of(a);
    static int[] I(DeviceArray<int> a) => HostArray<int>.Of(a);

    public void Gemm(in GemmShape g, DeviceArray<float> a, DeviceArray<float> b, DeviceArray<float> c)
    {
        float[] A = D(a), B = D(b), C = D(c);
        for (int i = 0; i < g.M; i++)
        for (int j = 0; j < g.N; j++)
        {
            double sum = 0;
            for (int p = 0; p < g.K; p++)
            {
                float av = g.TransA == Transpose.No ? A[i * g.Lda + p] : A[p * g.Lda + i];
                float bv = g.TransB == Transpose.No ? B[p * g.Ldb + j] : B[j * g.Ldb + p];
                sum += (double)av * bv;
            }
            double result = g.Alpha * sum;
            if (g.Beta != 0f) result += (double)g.Beta * C[i * g.Ldc + j];
            C[i * g.Ldc + j] = (float)result;
        }
    }

    public void Copy(DeviceArray<float> source, DeviceArray<float> destination) => D(source).CopyTo(D(destination), 0);

    public void ApplyMask(DeviceArray<float> weight, DeviceArray<float> scores, DeviceArray<float> effective)
    {
        float[] w = D(weight), s = D(scores), e = D(effective);
        for (int i = 0; i < w.Length; i++) e[i] = s[i] > 0f ? w[i] : 0f;
    }

    public void MaskGradients(DeviceArray<float> gradEffective, DeviceArray<float> weight, DeviceArray<float> scores,
        DeviceArray<float>? gradScores, DeviceArray<float>? gradWeight, MaskGradient rule)
    {
        float[] ge = D(gradEffective), w = D(weight), s = D(scores);
        for (int i = 0; i < ge.Length; i++)
        {
            if (gradScores is not null)
            {
                float v = ge[i] * w[i];
                D(gradScores)[i] = rule == MaskGradient.ClippedStraightThrough ? Math.Clamp(v, -1f, 1f) : v;
            }
            if (gradWeight is not null) D(gradWeight)[i] = s[i] > 0f ? ge[i] : 0f;
        }
    }

    public void LinearForward(in LinearShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float>? bias, DeviceArray<float> y)
    {
        float[] X = D(x), W = D(weight), Y = D(y);
        float[]? B = bias is null ? null : D(bias);
        for (int n = 0; n < s.Batch; n++)
        for (int o = 0; o < s.OutFeatures; o++)
        {
            double sum = B?[o] ?? 0;
            for (int i = 0; i < s.InFeatures; i++) sum += (double)X[n * s.InFeatures + i] * W[o * s.InFeatures + i];
            Y[n * s.OutFeatures + o] = (float)sum;
        }
    }

    public void LinearBackward(in LinearShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float> gradOut,
        DeviceArray<float>? gradInput, DeviceArray<float>? gradWeight, DeviceArray<float>? gradBias)
    {
        float[] X = D(x), W = D(weight), G = D(gradOut);
        if (gradInput is not null)
        {
            var gx = D(gradInput);
            for (int n = 0; n < s.Batch; n++)
            for (int i = 0; i < s.InFeatures; i++)
            {
                double sum = 0;
                for (int o = 0; o < s.OutFeatures; o++) sum += (double)G[n * s.OutFeatures + o] * W[o * s.InFeatures + i];
                gx[n * s.InFeatures + i] = (float)sum;
            }
        }
        if (gradWeight is not null)
        {
            var gw = D(gradWeight);
            for (int o = 0; o < s.OutFeatures; o++)
            for (int i = 0; i < s.InFeatures; i++)
            {
                double sum = 0;
                for (int n = 0; n < s.Batch; n++) sum += (double)G[n * s.OutFeatures + o] * X[n * s.InFeatures + i];
                gw[o * s.InFeatures + i] = (float)sum;
            }
        }
        if (gradBias is not null)
        {
            var gb = D(gradBias);
            for (int o = 0; o < s.OutFeatures; o++)
            {
                double sum = 0;
                for (int n = 0; n < s.Batch; n++) sum += G[n * s.OutFeatures + o];
                gb[o] = (float)sum;
            }
        }
    }

    /// <summary>Calls <paramref name="tap"/>(n, o, oh, ow, c, kh, kw, input index, output index, weight index) for every
    /// multiply of the convolution whose input position falls inside the (unpadded) image: the definition of conv2d.</summary>
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

    public void Conv2dForward(in Conv2dShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float>? bias, DeviceArray<float> y)
    {
        float[] X = D(x), W = D(weight), Y = D(y);
        var acc = new double[Y.Length];
        if (bias is not null)
        {
            float[] B = D(bias);
            int plane = s.OutHeight * s.OutWidth;
            for (int i = 0; i < acc.Length; i++) acc[i] = B[i / plane % s.OutChannels];
        }
        ForEachTap(s, (xi, yi, wi) => acc[yi] += (double)X[xi] * W[wi]);
        for (int i = 0; i < Y.Length; i++) Y[i] = (float)acc[i];
    }

    public void Conv2dBackward(in Conv2dShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float> gradOut,
        DeviceArray<float>? gradInput, DeviceArray<float>? gradWeight, DeviceArray<float>? gradBias)
    {
        float[] X = D(x), W = D(weight), G = D(gradOut);
        var gx = gradInput is null ? null : new double[X.Length];
        var gw = gradWeight is null ? null : new double[W.Length];
        if (gx is not null || gw is not null)
            ForEachTap(s, (xi, yi, wi) =>
            {
                if (gx is not null) gx[xi] += (double)G[yi] * W[wi];
                if (gw is not null) gw[wi] += (double)G[yi] * X[xi];
            });
        if (gx is not null) Store(gx, D(gradInput!));
        if (gw is not null) Store(gw, D(gradWeight!));
        if (gradBias is not null)
        {
            var gb = new double[s.OutChannels];
            int plane = s.OutHeight * s.OutWidth;
            for (int i = 0; i < G.Length; i++) gb[i / plane % s.OutChannels] += G[i];
            Store(gb, D(gradBias));
        }
    }

    static void Store(double[] source, float[] destination)
    {
        for (int i = 0; i < source.Length; i++) destination[i] = (float)source[i];
    }

    public void SparseLinearForward(in LinearShape s, CsrWeights weight, DeviceArray<float> x, DeviceArray<float>? bias, DeviceArray<float> y)
    {
        using var dense = Densify(weight);
        LinearForward(s, x, dense, bias, y);
    }

    public void SparseConv2dForward(in Conv2dShape s, CsrWeights weight, DeviceArray<float> x, DeviceArray<float>? bias, DeviceArray<float> y)
    {
        using var dense = Densify(weight);
        Conv2dForward(s, x, dense, bias, y);
    }

    /// <summary>The specification of a sparse layer is the dense layer with the dropped weights set to zero.</summary>
    static DeviceArray<float> Densify(CsrWeights w)
    {
        var dense = w.Device.Allocate<float>(w.Rows * w.Cols);
        int[] start = I(w.RowStart), cols = I(w.Columns);
        float[] values = D(w.Values), d = D(dense);
        for (int r = 0; r < w.Rows; r++)
            for (int k = start[r]; k < start[r + 1]; k++) d[r * w.Cols + cols[k]] = values[k];
        return dense;
    }
}
