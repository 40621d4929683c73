namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The Cpu backend's kernels: GEMM-shaped work goes to <see cref="Sgemm"/>, convolutions to <see cref="ConvGemm"/>,
/// sparse layers to direct kernels, and the rest to SIMD loops.</summary>
internal sealed unsafe class CpuKernels : IKernels
{
    static float[] D(DeviceArray<float> a) => HostArray<float>.Of(a);
    static float[]? Optional(DeviceArray<float>? a) => a is null ? null : D(a);
    static int[] I(DeviceArray<int> a) => HostArray<int>.Of(a);

    public void Gemm(in GemmShape g, DeviceArray<float> a, DeviceArray<float> b, DeviceArray<float> c) =>
        Sgemm.Run(g, D(a), D(b), D(c));

    public void Copy(DeviceArray<float> source, DeviceArray<float> destination) => Elementwise.Copy(D(source), D(destination));

    public void ApplyMask(DeviceArray<float> weight, DeviceArray<float> scores, DeviceArray<float> effective) =>
        Elementwise.ApplyMask(D(weight), D(scores), D(effective));

    public void MaskGradients(DeviceArray<float> gradEffective, DeviceArray<float> weight, DeviceArray<float> scores,
        DeviceArray<float>? gradScores, DeviceArray<float>? gradWeight, MaskGradient rule) =>
        Elementwise.MaskGradients(D(gradEffective), D(weight), D(scores), Optional(gradScores), Optional(gradWeight), rule);

    public void Forward(in LinearShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float>? bias, DeviceArray<float> y)
    {
        float[] Y = D(y);
        float[]? B = Optional(bias);
        // The bias rows go in first and the GEMM accumulates onto them (beta = 1): no second pass over y.
        if (B is not null)
            for (int n = 0; n < s.Batch; n++) B.CopyTo(Y, n * s.OutFeatures);
        Sgemm.Run(GemmShape.Dense(Transpose.No, Transpose.Yes, s.Batch, s.OutFeatures, s.InFeatures, 1f, B is null ? 0f : 1f),
            D(x), D(weight), Y);
    }

    public void Backward(in LinearShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float> gradOut,
        DeviceArray<float>? gradInput, DeviceArray<float>? gradWeight, DeviceArray<float>? gradBias)
    {
        float[] G = D(gradOut);
        if (gradInput is not null)
            Sgemm.Run(GemmShape.Dense(Transpose.No, Transpose.No, s.Batch, s.InFeatures, s.OutFeatures), G, D(weight), D(gradInput));
        if (gradWeight is not null)
        {
            // K = Batch may be 0, which GEMM already treats as C = beta C = 0.
            Sgemm.Run(GemmShape.Dense(Transpose.Yes, Transpose.No, s.OutFeatures, s.InFeatures, s.Batch), G, D(x), D(gradWeight));
        }
        if (gradBias is not null)
        {
            fixed (float* gb = D(gradBias), g = G)
            {
                Simd.Zero(gb, s.OutFeatures);
                for (int n = 0; n < s.Batch; n++) Simd.Add(gb, g + (long)n * s.OutFeatures, s.OutFeatures);
            }
        }
    }

    public void Forward(in Conv2dShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float>? bias, DeviceArray<float> y) =>
        ConvGemm.Forward(s, D(x), D(weight), Optional(bias), D(y));

    public void Backward(in Conv2dShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float> gradOut,
        DeviceArray<float>? gradInput, DeviceArray<float>? gradWeight, DeviceArray<float>? gradBias) =>
        ConvGemm.Backward(s, D(x), D(weight), D(gradOut), Optional(gradInput), Optional(gradWeight), Optional(gradBias));

    public void SparseLinearForward(in LinearShape s, CsrWeights weight, DeviceArray<float> x, DeviceArray<float>? bias, DeviceArray<float> y) =>
        SparseLinear.Forward(s, I(weight.RowStart), I(weight.Columns), D(weight.Values), D(x), Optional(bias), D(y));

    public void SparseConv2dForward(in Conv2dShape s, CsrWeights weight, DeviceArray<float> x, DeviceArray<float>? bias, DeviceArray<float> y) =>
        SparseConv.Forward(s, I(weight.RowStart), I(weight.Columns), D(weight.Values), D(x), Optional(bias), D(y));
}
