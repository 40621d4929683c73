namespace Hybrid.Core.Gpu;

/// <summary>Linear layers, masked or plain (PyTorch's <c>F.linear</c> with SeaM's weight masks): y = x w_eff^T + b_eff, with
/// x (Batch x InFeatures) and y (Batch x OutFeatures). The entry points are <see cref="MaskedLayer{TShape}"/>'s.</summary>
public sealed class Linear : MaskedLayer<LinearShape>
{
    Linear() { }
}
