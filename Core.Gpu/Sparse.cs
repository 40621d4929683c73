namespace Hybrid.Core.Gpu;

/// <summary>Inference with compressed weights: the forward pass of a masked layer whose surviving weights are few.</summary>
public static class Sparse
{
    /// <summary>y = x W^T + b_eff with W in CSR form (OutFeatures x InFeatures).</summary>
    public static void LinearForward(LinearShape s, CsrWeights w, DeviceArray<float>? bias, DeviceArray<float> x, DeviceArray<float> y)
    {
        Validate.NonNegative(s.Batch, "batch", s);
        var device = Check(w, bias, x, y, s.OutFeatures, s.InFeatures, s.InputLength, s.OutputLength, s);
        if (s.OutputLength == 0) return;
        device.Kernels.SparseLinearForward(s, w, x, bias, y);
    }

    /// <summary>A convolution with W in CSR form (OutChannels x InChannels/Groups*KernelH*KernelW).</summary>
    public static void Conv2dForward(Conv2dShape s, CsrWeights w, DeviceArray<float>? bias, DeviceArray<float> x, DeviceArray<float> y)
    {
        s.Check();
        var device = Check(w, bias, x, y, s.OutChannels, s.FilterLength, s.InputLength, s.OutputLength, s);
        if (s.OutputLength == 0) return;
        device.Kernels.SparseConv2dForward(s, w, x, bias, y);
    }

    /// <summary>Checks the CSR weights (rows x cols), input, bias and output on the input's device, which it returns.</summary>
    static Device Check(CsrWeights w, DeviceArray<float>? bias, DeviceArray<float> x, DeviceArray<float> y, int rows, int cols,
        int inputLength, int outputLength, object shape)
    {
        var device = x.Device;
        if (w.Rows != rows || w.Cols != cols)
            throw new ArgumentException($"{shape}: CSR weights are {w.Rows}x{w.Cols}, expected {rows}x{cols}");
        if (!ReferenceEquals(w.Device, device))
            throw new ArgumentException($"{shape}: CSR weights are on {w.Device.Name}, expected {device.Name}");
        Validate.Array(x, "input", inputLength, device, shape);
        Validate.Optional(bias, "bias", rows, device, shape);
        Validate.Array(y, "output", outputLength, device, shape);
        return device;
    }
}
