namespace Hybrid.Core.Nn.Modules;

// The parameterless activations share one file: each is a one-line forward over a Functional op, and grouping them keeps
// the PyTorch class names (which TypeName reports) without eight ten-line files.

/// <summary>An element-wise activation with no state. <c>inplace</c> is accepted for PyTorch's signatures and has no
/// effect: every op here returns a new tensor.</summary>
public abstract class Activation(bool inplace = false) : Module
{
    /// <summary>PyTorch's flag, recorded for reprs; outputs are always new tensors.</summary>
    public bool Inplace { get; } = inplace;

    public override string ToString() => Inplace ? $"{TypeName}(inplace=True)" : $"{TypeName}()";
}

/// <summary>max(x, 0).</summary>
public sealed class ReLU(bool inplace = false) : Activation(inplace)
{
    public override Tensor Forward(Tensor input) => Functional.Relu(input);
}

/// <summary>min(max(x, 0), 6).</summary>
public sealed class ReLU6(bool inplace = false) : Activation(inplace)
{
    public override Tensor Forward(Tensor input) => Functional.Relu6(input);
}

/// <summary>x * sigmoid(x).</summary>
public sealed class SiLU(bool inplace = false) : Activation(inplace)
{
    public override Tensor Forward(Tensor input) => Functional.Silu(input);
}

/// <summary>x * relu6(x + 3) / 6.</summary>
public sealed class Hardswish(bool inplace = false) : Activation(inplace)
{
    public override Tensor Forward(Tensor input) => Functional.Hardswish(input);
}

/// <summary>relu6(x + 3) / 6.</summary>
public sealed class Hardsigmoid(bool inplace = false) : Activation(inplace)
{
    public override Tensor Forward(Tensor input) => Functional.Hardsigmoid(input);
}

/// <summary>1 / (1 + exp(-x)).</summary>
public sealed class Sigmoid : Activation
{
    public override Tensor Forward(Tensor input) => Functional.Sigmoid(input);
}

/// <summary>tanh(x).</summary>
public sealed class Tanh : Activation
{
    public override Tensor Forward(Tensor input) => Functional.Tanh(input);
}

/// <summary>PyTorch's <c>nn.GELU</c>: exact (erf) with approximate "none", or the tanh approximation with "tanh".</summary>
public sealed class GELU : Activation
{
    public GELU(string approximate = "none")
    {
        if (approximate is not ("none" or "tanh"))
            throw new ArgumentException($"GELU: approximate must be 'none' or 'tanh', not '{approximate}'", nameof(approximate));
        Approximate = approximate;
    }

    public string Approximate { get; }

    public override Tensor Forward(Tensor input) => Functional.Gelu(input, Approximate == "tanh");

    public override string ToString() => Approximate == "none" ? "GELU(approximate='none')" : "GELU(approximate='tanh')";
}
