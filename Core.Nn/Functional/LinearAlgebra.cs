namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>y = x W^T + b over the last dimension of x (any leading dimensions): PyTorch's F.linear.</summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null) => throw new NotImplementedException("Linear");

    /// <summary>Linear with weight * 1[weightMask > 0] and bias * 1[biasMask > 0].</summary>
    public static Tensor MaskedLinear(Tensor input, Tensor weight, Tensor weightMask, Tensor? bias, Tensor? biasMask,
        Gpu.MaskGradient rule = Gpu.MaskGradient.StraightThrough) => throw new NotImplementedException("MaskedLinear");

    /// <summary>torch.matmul: 1-D and 2-D operands, and batched operands whose leading dimensions broadcast.</summary>
    public static Tensor Matmul(Tensor a, Tensor b) => throw new NotImplementedException("Matmul");

    /// <summary>torch.bmm: (B, N, K) x (B, K, M) -> (B, N, M).</summary>
    public static Tensor Bmm(Tensor a, Tensor b) => throw new NotImplementedException("Bmm");
}
