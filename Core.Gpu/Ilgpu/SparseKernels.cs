using ILGPU;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>Forward passes with CSR weights: one thread per output element walks the nonzeros of its row. The rows are
/// short and the thread reads only surviving taps, so no dense weight or column matrix is ever formed.</summary>
internal static class SparseKernels
{
    /// <summary>The CSR arrays of a weight matrix, as kernels see them.</summary>
    public readonly record struct Csr(ArrayView<int> RowStart, ArrayView<int> Columns, ArrayView<float> Values);

    /// <summary>y[n, o] = bias[o] + sum over row o of value * x[n, column].</summary>
    public static void Linear(Index1D i, Csr w, ArrayView<float> x, ArrayView<float> bias, int hasBias, ArrayView<float> y,
        LinearShape s)
    {
        int n = i / s.OutFeatures, o = i - n * s.OutFeatures, inputRow = n * s.InFeatures;
        float sum = hasBias != 0 ? bias[o] : 0f;
        for (int k = w.RowStart[o]; k < w.RowStart[o + 1]; k++) sum += w.Values[k] * x[inputRow + w.Columns[k]];
        y[i] = sum;
    }

    /// <summary>y[n, o, oh, ow] = bias[o] + sum over row o of value * x at the tap its column (c, kh, kw) names; taps in
    /// the padding contribute nothing.</summary>
    public static void Conv2d(Index1D i, Csr w, ArrayView<float> x, ArrayView<float> bias, int hasBias, ArrayView<float> y,
        ConvParams p)
    {
        int ow = i % p.OutWidth, oh = i / p.OutWidth % p.OutHeight, o = i / p.Plane % p.OutChannels, n = i / (p.Plane * p.OutChannels);
        int firstChannel = o / p.OutChannelsPerGroup * p.InChannelsPerGroup;
        int top = oh * p.StrideH - p.PadH, left = ow * p.StrideW - p.PadW, taps = p.KernelH * p.KernelW;
        float sum = hasBias != 0 ? bias[o] : 0f;
        for (int k = w.RowStart[o]; k < w.RowStart[o + 1]; k++)
        {
            int column = w.Columns[k], c = column / taps, tap = column - c * taps;
            int ih = top + tap / p.KernelW * p.DilationH, iw = left + tap % p.KernelW * p.DilationW;
            if (ih < 0 || ih >= p.Height || iw < 0 || iw >= p.Width) continue;
            sum += w.Values[k] * x[((n * p.InChannels + firstChannel + c) * p.Height + ih) * p.Width + iw];
        }
        y[i] = sum;
    }
}
