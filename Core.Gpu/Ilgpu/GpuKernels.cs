using ILGPU;
using ILGPU.Runtime;
using static Hybrid.Core.Gpu.Ilgpu.ElementwiseKernels;
using Csr = Hybrid.Core.Gpu.Ilgpu.SparseKernels.Csr;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary><see cref="IKernels"/> on one ILGPU accelerator. Its kernels are compiled once, when the device is created, and
/// launched asynchronously on the accelerator's default stream; host transfers on that stream wait for them.
/// The convolutions live in GpuKernels.Conv.cs.</summary>
internal sealed partial class GpuKernels : IKernels
{
    readonly GpuDevice device;
    readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams> gemm;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>> applyMask, weightGradient;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int> scoreGradient;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int> addBias;
    readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, SumParams> channelSum;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ConvParams> im2col, col2im, gather;
    readonly Action<Index1D, ArrayView<float>, ArrayView<float>, int, ArrayView<float>, ConvParams> scatter;
    readonly Action<Index1D, Csr, ArrayView<float>, ArrayView<float>, int, ArrayView<float>, LinearShape> sparseLinear;
    readonly Action<Index1D, Csr, ArrayView<float>, ArrayView<float>, int, ArrayView<float>, ConvParams> sparseConv;

    public GpuKernels(GpuDevice device)
    {
        this.device = device;
        var a = device.Accelerator;
        gemm = GemmKernel.Load(a);
        applyMask = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(ElementwiseKernels.ApplyMask);
        weightGradient = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>>(WeightGradient);
        scoreGradient = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ScoreGradient);
        addBias = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(AddBias);
        channelSum = a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, SumParams>(ChannelSum);
        im2col = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ConvParams>(ConvKernels.Im2Col);
        col2im = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ConvParams>(ConvKernels.Col2Im);
        gather = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ConvParams>(ConvKernels.Gather);
        scatter = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, ArrayView<float>, ConvParams>(ConvKernels.Scatter);
        sparseLinear = a.LoadAutoGroupedStreamKernel<Index1D, Csr, ArrayView<float>, ArrayView<float>, int, ArrayView<float>, LinearShape>(SparseKernels.Linear);
        sparseConv = a.LoadAutoGroupedStreamKernel<Index1D, Csr, ArrayView<float>, ArrayView<float>, int, ArrayView<float>, ConvParams>(SparseKernels.Conv2d);
    }

    static ArrayView<float> V(DeviceArray<float> array) => ((GpuArray<float>)array).View;
    static ArrayView<int> V(DeviceArray<int> array) => ((GpuArray<int>)array).View;

    /// <summary>Makes the accelerator current on this thread before anything is queued.</summary>
    void Bind() => _ = device.Accelerator;

    GpuArray<float> Scratch(long length) => new(device, checked((int)length));

    void RunGemm(in GemmParams p, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
    {
        if (p.M > 0 && p.N > 0 && p.Batch > 0) gemm(GemmKernel.Config(p), a, b, c, p);
    }

    /// <summary>sums[o] = sum of data[n, o, p] over n and p; 0 for an empty batch.</summary>
    void ChannelSums(ArrayView<float> data, DeviceArray<float> sums, SumParams p)
    {
        if (p.Channels > 0) channelSum(ChannelSumConfig(p.Channels), data, V(sums), p);
    }

    public void Gemm(in GemmShape g, DeviceArray<float> a, DeviceArray<float> b, DeviceArray<float> c)
    {
        Bind();
        RunGemm(GemmParams.From(g), V(a), V(b), V(c));
    }

    public void Copy(DeviceArray<float> source, DeviceArray<float> destination)
    {
        Bind();
        ((GpuArray<float>)source).CopyTo((GpuArray<float>)destination, source.Length);
    }

    public void ApplyMask(DeviceArray<float> weight, DeviceArray<float> scores, DeviceArray<float> effective)
    {
        Bind();
        if (weight.Length > 0) applyMask(weight.Length, V(weight), V(scores), V(effective));
    }

    public void MaskGradients(DeviceArray<float> gradEffective, DeviceArray<float> weight, DeviceArray<float> scores,
        DeviceArray<float>? gradScores, DeviceArray<float>? gradWeight, MaskGradient rule)
    {
        Bind();
        int n = gradEffective.Length;
        if (n == 0) return;
        if (gradScores is not null)
            scoreGradient(n, V(gradEffective), V(weight), V(gradScores), rule == MaskGradient.ClippedStraightThrough ? 1 : 0);
        if (gradWeight is not null) weightGradient(n, V(gradEffective), V(scores), V(gradWeight));
    }

    public void Forward(in LinearShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float>? bias, DeviceArray<float> y)
    {
        Bind();
        // y = x W^T: W is stored (OutFeatures x InFeatures), so it enters transposed.
        RunGemm(new GemmParams(s.Batch, s.OutFeatures, s.InFeatures, 1f, 0f, false, true,
            s.InFeatures, s.InFeatures, s.OutFeatures), V(x), V(weight), V(y));
        if (bias is not null && y.Length > 0) addBias(y.Length, V(y), V(bias), s.OutFeatures);
    }

    public void Backward(in LinearShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float> gradOut,
        DeviceArray<float>? gradInput, DeviceArray<float>? gradWeight, DeviceArray<float>? gradBias)
    {
        Bind();
        // dx = dy W (Batch x In); dW = dy^T x (Out x In), all zero when the batch is empty since K = 0 still writes C.
        if (gradInput is not null)
            RunGemm(new GemmParams(s.Batch, s.InFeatures, s.OutFeatures, 1f, 0f, false, false,
                s.OutFeatures, s.InFeatures, s.InFeatures), V(gradOut), V(weight), V(gradInput));
        if (gradWeight is not null)
            RunGemm(new GemmParams(s.OutFeatures, s.InFeatures, s.Batch, 1f, 0f, true, false,
                s.OutFeatures, s.InFeatures, s.InFeatures), V(gradOut), V(x), V(gradWeight));
        if (gradBias is not null) ChannelSums(V(gradOut), gradBias, new SumParams(s.Batch, s.OutFeatures, 1));
    }

    static Csr Compressed(CsrWeights w) => new(V(w.RowStart), V(w.Columns), V(w.Values));

    public void SparseLinearForward(in LinearShape s, CsrWeights weight, DeviceArray<float> x, DeviceArray<float>? bias, DeviceArray<float> y)
    {
        Bind();
        sparseLinear(y.Length, Compressed(weight), V(x), V(bias ?? y), bias is null ? 0 : 1, V(y), s);
    }

    public void SparseConv2dForward(in Conv2dShape s, CsrWeights weight, DeviceArray<float> x, DeviceArray<float>? bias, DeviceArray<float> y)
    {
        Bind();
        sparseConv(y.Length, Compressed(weight), V(x), V(bias ?? y), bias is null ? 0 : 1, V(y), ConvParams.From(s, 0, s.Batch));
    }
}
