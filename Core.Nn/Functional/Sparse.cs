using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>Inference of a convolution whose weight (<paramref name="weightShape"/>: O, C/groups, kH, kW) is held in
    /// CSR form, through Core.Gpu's sparse kernel; float32 only, and nothing is recorded for autograd, so it throws when
    /// gradients would be needed.</summary>
    public static Tensor SparseConv2d(Tensor input, CsrWeights weight, int[] weightShape, Tensor? bias = null, Size2? stride = null,
        Size2? padding = null, Size2? dilation = null, int groups = 1)
    {
        ArgumentNullException.ThrowIfNull(weight);
        CheckSparse("SparseConv2d", input, bias);
        var s = ConvShape("SparseConv2d", input, weightShape, $"{ShapeOps.Format(weightShape)} CSR", stride ?? 1, padding ?? 0,
            dilation ?? 1, groups);
        var output = FreshOutput(input.Device, [s.Batch, s.OutChannels, s.OutHeight, s.OutWidth]);
        using var staging = new Float32Staging(input.Device);
        Gpu.Sparse.Conv2dForward(s, weight, staging.InOptional(bias?.F32), staging.In(input.F32), staging.Out(output.F32));
        staging.Download();
        return output;
    }

    /// <summary>Inference of a linear layer whose (out, in) weight is held in CSR form; float32, no autograd.</summary>
    public static Tensor SparseLinear(Tensor input, CsrWeights weight, Tensor? bias = null)
    {
        ArgumentNullException.ThrowIfNull(weight);
        CheckSparse("SparseLinear", input, bias);
        if (input.Dim == 0 || input.ShapeRef[^1] != weight.Cols)
            throw new ArgumentException(
                $"SparseLinear: input {LayerOp.Describe(input)} and CSR weight {weight.Rows}x{weight.Cols}: the input's last dimension must be {weight.Cols}");
        int batch = ShapeOps.Numel(input.ShapeRef.AsSpan(0, input.Dim - 1));
        var s = new LinearShape(batch, weight.Cols, weight.Rows);
        var output = FreshOutput(input.Device, [.. input.ShapeRef[..^1], weight.Rows]);
        using var staging = new Float32Staging(input.Device);
        Gpu.Sparse.LinearForward(s, weight, staging.InOptional(bias?.F32), staging.In(input.F32), staging.Out(output.F32));
        staging.Download();
        return output;
    }

    /// <summary>Output storage the sparse kernels overwrite in full (bias or zero, then the taps), so it need not be
    /// zeroed and may be a recycled array.</summary>
    static Tensor FreshOutput(Device device, int[] shape) => TensorAccess.Own(TensorAccess.Fresh<float>(ShapeOps.Numel(shape)), shape, device);

    static void CheckSparse(string op, Tensor input, Tensor? bias)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Dtype != ScalarType.Float32 || (bias is not null && bias.Dtype != ScalarType.Float32))
            throw new ArgumentException($"{op}: sparse inference runs on float32, not input {LayerOp.Describe(input)}");
        if (Autograd.IsEnabled && input.RequiresGrad)
            throw new InvalidOperationException($"{op}: sparse layers are for inference; run them under Autograd.NoGrad()");
    }
}
