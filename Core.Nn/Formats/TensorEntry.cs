namespace Hybrid.Core.Nn.Formats;

/// <summary>
/// One tensor as described by a safetensors header: its name, element type, shape and byte range.
/// </summary>
/// <param name="Name">The key in the header, e.g. <c>layer1.0.conv1.weight</c>.</param>
/// <param name="DType">The element type.</param>
/// <param name="Shape">Dimensions, outermost first (row-major, as in PyTorch). Empty for a scalar.</param>
/// <param name="Begin">Start of the data, relative to the first byte after the header.</param>
/// <param name="End">One past the last byte of the data, relative like <paramref name="Begin"/>.</param>
public sealed record TensorEntry(string Name, DType DType, long[] Shape, long Begin, long End)
{
    /// <summary>Number of elements: the product of the dimensions, 1 for a scalar, 0 if any dimension is 0.</summary>
    public long ElementCount => CountElements(Shape);

    /// <summary>Length of the data in bytes, <c>End - Begin</c>.</summary>
    public long ByteLength => End - Begin;

    /// <summary>A one-line description such as <c>conv1.weight F32 [16, 3, 3, 3] bytes [264, 1992)</c>.</summary>
    public override string ToString() => $"{Name} {DType.HeaderName()} {FormatShape(Shape)} bytes [{Begin}, {End})";

    /// <summary>Formats a shape the way error messages and <see cref="ToString"/> show it: <c>[2, 3]</c>.</summary>
    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>
    /// The product of <paramref name="shape"/>; throws <see cref="OverflowException"/> when it does not fit
    /// in a long, which only a hostile header can cause.
    /// </summary>
    internal static long CountElements(long[] shape)
    {
        long count = 1;
        foreach (var dim in shape)
            count = checked(count * dim);
        return count;
    }
}
