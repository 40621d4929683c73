using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>y = x W^T + b over the last dimension of x (any leading dimensions): PyTorch's F.linear. Float32 runs
    /// Core.Gpu's linear layer on the input's device with the leading dimensions as its batch.</summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null) =>
        LinearOp(new LayerOp("Linear", input, weight, null, bias, null, MaskGradient.StraightThrough), "Linear", input, weight);

    /// <summary>Linear with weight * 1[weightMask > 0] and bias * 1[biasMask > 0].</summary>
    public static Tensor MaskedLinear(Tensor input, Tensor weight, Tensor weightMask, Tensor? bias, Tensor? biasMask,
        Gpu.MaskGradient rule = Gpu.MaskGradient.StraightThrough)
    {
        ArgumentNullException.ThrowIfNull(weightMask);
        return LinearOp(new LayerOp("MaskedLinear", input, weight, weightMask, bias, biasMask, rule), "MaskedLinear", input, weight);
    }

    static Tensor LinearOp(LayerOp layer, string op, Tensor input, Tensor weight)
    {
        if (weight.Dim != 2 || input.Dim == 0 || input.ShapeRef[^1] != weight.ShapeRef[1])
            throw new ArgumentException(
                $"{op}: input {LayerOp.Describe(input)} and weight {LayerOp.Describe(weight)}: weight must be (out, in) and the input's last dimension in");
        int inFeatures = weight.ShapeRef[1], outFeatures = weight.ShapeRef[0];
        int batch = ShapeOps.Numel(input.ShapeRef.AsSpan(0, input.Dim - 1));
        layer.CheckBias(outFeatures);
        var s = new LinearShape(batch, inFeatures, outFeatures);
        int[] outputShape = [.. input.ShapeRef[..^1], outFeatures];
        return layer.Run(outputShape,
            new PlainLayer((x, w, b, y) => Gpu.Linear.Forward(s, x, w, b, y),
                (x, w, g, gx, gw, gb) => Gpu.Linear.Backward(s, x, w, g, gx, gw, gb)),
            (p, x, y) => Gpu.Linear.Forward(s, p, x, y),
            (p, x, g, grads) => Gpu.Linear.Backward(s, p, x, g, grads));
    }

    /// <summary>torch.matmul: 1-D and 2-D operands, and batched operands whose leading dimensions broadcast.</summary>
    public static Tensor Matmul(Tensor a, Tensor b) => MatrixProduct("Matmul", a, b);

    /// <summary>torch.bmm: (B, N, K) x (B, K, M) -> (B, N, M).</summary>
    public static Tensor Bmm(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Dim != 3 || b.Dim != 3 || a.ShapeRef[0] != b.ShapeRef[0])
            throw new ArgumentException($"Bmm: operands {LayerOp.Describe(a)} and {LayerOp.Describe(b)} must be (B, N, K) and (B, K, M) with one B");
        return MatrixProduct("Bmm", a, b);
    }

    static Tensor MatrixProduct(string op, Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (!a.IsFloatingPoint || a.Dtype != b.Dtype)
            throw new ArgumentException($"{op}: operands {LayerOp.Describe(a)} and {LayerOp.Describe(b)} must share one floating-point dtype");
        var plan = MatmulPlan.For(op, a.ShapeRef, b.ShapeRef);
        var device = a.Device;
        var output = Tensor.Zeros(a.Dtype, device, plan.OutputShape);
        BatchedGemm.Run(device, false, false, plan.M, plan.N, plan.K, a.Storage, plan.AIndex, b.Storage, plan.BIndex,
            output.Storage, plan.Identity);
        Trace.Record(op, output, [a, b]);
        return Autograd.Record(output, op, g =>
        {
            Tensor? ga = null, gb = null;
            if (a.RequiresGrad)
            {
                ga = a.ZerosLike();
                BatchedGemm.Run(device, false, true, plan.M, plan.K, plan.N, g.Storage, plan.Identity, b.Storage, plan.BIndex,
                    ga.Storage, plan.AIndex);
            }
            if (b.RequiresGrad)
            {
                gb = b.ZerosLike();
                BatchedGemm.Run(device, true, false, plan.K, plan.N, plan.M, a.Storage, plan.AIndex, g.Storage, plan.Identity,
                    gb.Storage, plan.BIndex);
            }
            return [ga, gb];
        }, a, b);
    }
}
