namespace Hybrid.Core.Gpu;

/// <summary>What every backend implements. Callers (the public entry points) have validated shapes, lengths and devices,
/// so implementations assume valid input. Outputs are overwritten; nullable outputs are skipped when null.</summary>
internal interface IKernels : ILayerKernels<LinearShape>, ILayerKernels<Conv2dShape>
{
    /// <summary>Row-major SGEMM; when Beta is 0, C is written without being read (NaN in C does not propagate).</summary>
    void Gemm(in GemmShape g, DeviceArray<float> a, DeviceArray<float> b, DeviceArray<float> c);

    /// <summary>destination[i] = source[i] (equal lengths).</summary>
    void Copy(DeviceArray<float> source, DeviceArray<float> destination);

    /// <summary>effective[i] = weight[i] * 1[scores[i] > 0].</summary>
    void ApplyMask(DeviceArray<float> weight, DeviceArray<float> scores, DeviceArray<float> effective);

    /// <summary>From dL/d(effective): scores gradient = rule(gradEffective * weight), weight gradient = gradEffective * 1[scores > 0].</summary>
    void MaskGradients(DeviceArray<float> gradEffective, DeviceArray<float> weight, DeviceArray<float> scores,
        DeviceArray<float>? gradScores, DeviceArray<float>? gradWeight, MaskGradient rule);

    /// <summary>y = x W^T + b with W given in CSR form (rows = OutFeatures).</summary>
    void SparseLinearForward(in LinearShape s, CsrWeights weight, DeviceArray<float> x, DeviceArray<float>? bias, DeviceArray<float> y);

    /// <summary>Convolution with W in CSR form: row o holds the surviving taps of filter o, columns index (c, kh, kw) within its group.</summary>
    void SparseConv2dForward(in Conv2dShape s, CsrWeights weight, DeviceArray<float> x, DeviceArray<float>? bias, DeviceArray<float> y);
}
