namespace Hybrid.Core.Gpu.Reference;

/// <summary>Every kernel as the plainest loops that state its definition; sums are accumulated in double.
/// Other backends are tested against these.</summary>
internal sealed class ReferenceKernels : IKernels
{
    static float[] D(DeviceArray<float> a) => HostArray<float>.Of(a);
    static int[] I(DeviceArray<int> a) => HostArray<int>.Of(a);

    public void Gemm(in GemmShape g, DeviceArray<float> a, DeviceArray<float> b, DeviceArray<float> c)
    {
        float[] C = D(c);
        var sum = new double[g.M * g.N];
        ReferenceLoops.GemmAccumulate(g.TransA == Transpose.Yes, g.TransB == Transpose.Yes, g.M, g.N, g.K, Wide(a), 0, g.Lda,
            Wide(b), 0, g.Ldb, sum, 0, g.N);
        for (int i = 0; i < g.M; i++)
            for (int j = 0; j < g.N; j++)
            {
                double result = g.Alpha * sum[i * g.N + j];
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

    public void Forward(in LinearShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float>? bias, DeviceArray<float> y) =>
        RunForward(s, x, weight, bias, y);

    public void Backward(in LinearShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float> gradOut,
        DeviceArray<float>? gradInput, DeviceArray<float>? gradWeight, DeviceArray<float>? gradBias) =>
        RunBackward(s, x, weight, gradOut, gradInput, gradWeight, gradBias);

    public void Forward(in Conv2dShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float>? bias, DeviceArray<float> y) =>
        RunForward(s, x, weight, bias, y);

    public void Backward(in Conv2dShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float> gradOut,
        DeviceArray<float>? gradInput, DeviceArray<float>? gradWeight, DeviceArray<float>? gradBias) =>
        RunBackward(s, x, weight, gradOut, gradInput, gradWeight, gradBias);

    // A layer's forward pass as its shape's float64 definition (ReferenceLoops) states it.
    static void RunForward<TShape>(in TShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float>? bias, DeviceArray<float> y)
        where TShape : struct, ILayerShape
    {
        var result = new double[y.Length];
        s.ReferenceForward(Wide(x), Wide(weight), bias is null ? null : Wide(bias), result);
        Store(result, y);
    }

    // A layer's backward pass as its shape's float64 definition states it.
    static void RunBackward<TShape>(in TShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float> gradOut,
        DeviceArray<float>? gradInput, DeviceArray<float>? gradWeight, DeviceArray<float>? gradBias) where TShape : struct, ILayerShape
    {
        var (gx, gw, gb) = (Result(gradInput), Result(gradWeight), Result(gradBias));
        s.ReferenceBackward(Wide(x), Wide(weight), Wide(gradOut), gx, gw, gb);
        if (gx is not null) Store(gx, gradInput!);
        if (gw is not null) Store(gw, gradWeight!);
        if (gb is not null) Store(gb, gradBias!);
    }

    // The float32 kernels run the generic definitions in double: every product of two floats is exact there, and the sums
    // are accumulated in double, as the specification says.
    static double[] Wide(DeviceArray<float> a) => Array.ConvertAll(D(a), v => (double)v);

    static double[]? Result(DeviceArray<float>? a) => a is null ? null : new double[a.Length];

    static void Store(double[] source, DeviceArray<float> destination)
    {
        float[] d = D(destination);
        for (int i = 0; i < source.Length; i++) d[i] = (float)source[i];
    }

    public void SparseLinearForward(in LinearShape s, CsrWeights weight, DeviceArray<float> x, DeviceArray<float>? bias, DeviceArray<float> y)
    {
        using var dense = Densify(weight);
        Forward(s, x, dense, bias, y);
    }

    public void SparseConv2dForward(in Conv2dShape s, CsrWeights weight, DeviceArray<float> x, DeviceArray<float>? bias, DeviceArray<float> y)
    {
        using var dense = Densify(weight);
        Forward(s, x, dense, bias, y);
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
