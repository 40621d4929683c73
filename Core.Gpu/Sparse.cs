namespace Hybrid.Core.Gpu;

/// <summary>Inference with compressed weights: the forward pass of a masked layer whose surviving weights are few.</summary>
public static class Sparse
{
    /// <summary>y = x W^T + b_eff with W in CSR form (OutFeatures x InFeatures).</summary>
    public static void LinearForward(LinearShape s, CsrWeights w, DeviceArray<float>? bias, DeviceArray<float> x, DeviceArray<float> y)
    {
        Validate.NonNegative(s.Batch, "batch", s);
        var device = x.Device;
        CheckWeights(w, s.OutFeatures, s.InFeatures, device, s);
        Validate.Array(x, "input", s.InputLength, device, s);
        Validate.Optional(bias, "bias", s.OutFeatures, device, s);
        Validate.Array(y, "output", s.OutputLength, device, s);
        if (s.OutputLength == 0) return;
        device.Kernels.SparseLinearForward(s, w, x, bias, y);
    }

    /// <summary>A convolution with W in CSR form (OutChannels x InChannels/Groups*KernelH*KernelW).</summary>
    public static void Conv2dForward(Conv2dShape s, CsrWeights w, DeviceArray<float>? bias, DeviceArray<float> x, DeviceArray<float> y)
    {
        Conv2d.CheckShape(s);
        var device = x.Device;
        CheckWeights(w, s.OutChannels, s.FilterLength, device, s);
        Validate.Array(x, "input", s.InputLength, device, s);
        Validate.Optional(bias, "bias", s.OutChannels, device, s);
        Validate.Array(y, "output", s.OutputLength, device, s);
        if (s.OutputLength == 0) return;
        device.Kernels.SparseConv2dForward(s, w, x, bias, y);
    }

    static void CheckWeights(CsrWeights w, int rows, int cols, Device device, object shape)
    {
        if (w.Rows != rows || w.Cols != cols)
            throw new ArgumentException($"{shape}: CSR weights are {w.Rows}x{w.Cols}, expected {rows}x{cols}");
        if (!ReferenceEquals(w.Device, device))
            throw new ArgumentException($"{shape}: CSR weights are on {w.Device.Name}, expected {device.Name}");
    }
}
