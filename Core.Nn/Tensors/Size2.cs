namespace Hybrid.Core.Nn;

/// <summary>A (height, width) pair for kernel sizes, strides, padding and dilation; a single int converts to (v, v),
/// as PyTorch's <c>_pair</c> does.</summary>
public readonly record struct Size2(int H, int W)
{
    public static implicit operator Size2(int value) => new(value, value);

    public override string ToString() => H == W ? H.ToString() : $"({H}, {W})";
}
