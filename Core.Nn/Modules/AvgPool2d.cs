namespace Hybrid.Core.Nn.Modules;

/// <summary>PyTorch's <c>nn.AvgPool2d</c>; the stride defaults to the kernel size.</summary>
public sealed class AvgPool2d : Module
{
    public AvgPool2d(Size2 kernelSize, Size2? stride = null, Size2? padding = null, bool ceilMode = false, bool countIncludePad = true)
    {
        KernelSize = Shapes.Positive(kernelSize, "kernel_size", nameof(kernelSize));
        Stride = Shapes.Positive(stride ?? kernelSize, "stride", nameof(stride));
        Padding = Shapes.NonNegative(padding ?? 0, "padding", nameof(padding));
        if (2 * Padding.H > KernelSize.H || 2 * Padding.W > KernelSize.W)
            throw new ArgumentException($"AvgPool2d: padding {Shapes.Tuple(Padding)} must be at most half the kernel {Shapes.Tuple(KernelSize)}", nameof(padding));
        CeilMode = ceilMode;
        CountIncludePad = countIncludePad;
    }

    public Size2 KernelSize { get; }
    public Size2 Stride { get; }
    public Size2 Padding { get; }
    public bool CeilMode { get; }
    public bool CountIncludePad { get; }

    public override Tensor Forward(Tensor input) => Functional.AvgPool2d(input, KernelSize, Stride, Padding, CeilMode, CountIncludePad);

    public override string ToString() => $"AvgPool2d(kernel_size={KernelSize}, stride={Stride}, padding={Padding})";
}
