namespace Hybrid.Core.Nn.Modules;

/// <summary>PyTorch's <c>nn.MaxPool2d</c>; the stride defaults to the kernel size.</summary>
public sealed class MaxPool2d : Module
{
    public MaxPool2d(Size2 kernelSize, Size2? stride = null, Size2? padding = null, Size2? dilation = null, bool ceilMode = false)
    {
        KernelSize = Shapes.Positive(kernelSize, "kernel_size", nameof(kernelSize));
        Stride = Shapes.Positive(stride ?? kernelSize, "stride", nameof(stride));
        Padding = Shapes.NonNegative(padding ?? 0, "padding", nameof(padding));
        Dilation = Shapes.Positive(dilation ?? 1, "dilation", nameof(dilation));
        if (2 * Padding.H > KernelSize.H || 2 * Padding.W > KernelSize.W)
            throw new ArgumentException($"MaxPool2d: padding {Shapes.Tuple(Padding)} must be at most half the kernel {Shapes.Tuple(KernelSize)}", nameof(padding));
        CeilMode = ceilMode;
    }

    public Size2 KernelSize { get; }
    public Size2 Stride { get; }
    public Size2 Padding { get; }
    public Size2 Dilation { get; }
    public bool CeilMode { get; }

    public override Tensor Forward(Tensor input) => Functional.MaxPool2d(input, KernelSize, Stride, Padding, Dilation, CeilMode);

    public override string ToString() =>
        $"MaxPool2d(kernel_size={KernelSize}, stride={Stride}, padding={Padding}, dilation={Dilation}, ceil_mode={(CeilMode ? "True" : "False")})";
}
