namespace Hybrid.Core.Gpu;

/// <summary>2-D convolutions in NCHW, masked or plain (PyTorch's <c>F.conv2d</c> with SeaM's weight masks): y (Batch,
/// OutChannels, OutHeight, OutWidth) from x (Batch, InChannels, Height, Width). The entry points are
/// <see cref="MaskedLayer{TShape}"/>'s.</summary>
public sealed class Conv2d : MaskedLayer<Conv2dShape>
{
    Conv2d() { }
}
