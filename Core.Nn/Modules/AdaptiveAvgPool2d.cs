namespace Hybrid.Core.Nn.Modules;

/// <summary>PyTorch's <c>nn.AdaptiveAvgPool2d</c>: averages over windows chosen so the output is <see cref="OutputSize"/>;
/// an output of 1 is global average pooling.</summary>
public sealed class AdaptiveAvgPool2d(Size2 outputSize) : Module
{
    public Size2 OutputSize { get; } = Shapes.Positive(outputSize, "output_size", nameof(outputSize));

    public override Tensor Forward(Tensor input) => Functional.AdaptiveAvgPool2d(input, OutputSize);

    public override string ToString() => $"AdaptiveAvgPool2d(output_size={(OutputSize.H == OutputSize.W ? OutputSize.H.ToString() : Shapes.Tuple(OutputSize))})";
}
