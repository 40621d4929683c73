namespace Hybrid.Core.Nn.Modules;

/// <summary>PyTorch's <c>nn.Identity</c>: returns its input (a placeholder that keeps module paths stable).</summary>
public sealed class Identity : Module
{
    public override Tensor Forward(Tensor input) => input;

    public override string ToString() => "Identity()";
}
