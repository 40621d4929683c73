namespace Hybrid.Core.Nn;

public static partial class Functional
{
    public static Tensor Relu(Tensor input) => throw new NotImplementedException("Relu");

    /// <summary>GELU, exact (erf) by default or with PyTorch's tanh approximation.</summary>
    public static Tensor Gelu(Tensor input, bool tanhApproximation = false) => throw new NotImplementedException("Gelu");

    /// <summary>x * sigmoid(x).</summary>
    public static Tensor Silu(Tensor input) => throw new NotImplementedException("Silu");

    public static Tensor Sigmoid(Tensor input) => throw new NotImplementedException("Sigmoid");

    public static Tensor Tanh(Tensor input) => throw new NotImplementedException("Tanh");

    /// <summary>x * relu6(x + 3) / 6.</summary>
    public static Tensor Hardswish(Tensor input) => throw new NotImplementedException("Hardswish");

    /// <summary>relu6(x + 3) / 6.</summary>
    public static Tensor Hardsigmoid(Tensor input) => throw new NotImplementedException("Hardsigmoid");

    /// <summary>min(max(x, 0), 6).</summary>
    public static Tensor Relu6(Tensor input) => throw new NotImplementedException("Relu6");
}
