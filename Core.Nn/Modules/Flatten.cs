namespace Hybrid.Core.Nn.Modules;

/// <summary>PyTorch's <c>nn.Flatten</c>: dimensions <see cref="StartDim"/>..<see cref="EndDim"/> merged (by default all
/// but the batch dimension).</summary>
public sealed class Flatten(int startDim = 1, int endDim = -1) : Module
{
    public int StartDim { get; } = startDim;
    public int EndDim { get; } = endDim;

    public override Tensor Forward(Tensor input) => Functional.Flatten(input, StartDim, EndDim);

    public override string ToString() => $"Flatten(start_dim={StartDim}, end_dim={EndDim})";
}
