namespace Hybrid.Core.Nn.Formats.Onnx.Reader;

/// <summary>
/// Where an initializer's bytes live when the model stores them outside the <c>.onnx</c> file
/// (<c>data_location = EXTERNAL</c>). Reading the graph never opens that file.
/// </summary>
/// <param name="Location">Path of the data file, relative to the folder of the model.</param>
/// <param name="Offset">Byte offset of the tensor in that file (0 when the model does not say).</param>
/// <param name="Length">Number of bytes, or null when the model does not say.</param>
public sealed record OnnxExternalData(string Location, long Offset, long? Length);

/// <summary>
/// A named ONNX tensor: an initializer or the value of a <c>Constant</c> node or tensor attribute.
/// The elements are kept as little-endian bytes of <see cref="DataType"/>, whichever of the ONNX
/// encodings (<c>raw_data</c> or a typed field) the file used.
/// </summary>
public sealed class OnnxTensor
{
    internal OnnxTensor() { }

    /// <summary>The tensor's name (empty for an unnamed attribute value).</summary>
    public required string Name { get; init; }

    /// <summary>The element type as the file declares it.</summary>
    public required OnnxDataType DataType { get; init; }

    /// <summary>Dimensions, outermost first; empty for a scalar.</summary>
    public required IReadOnlyList<long> Shape { get; init; }

    /// <summary>The product of <see cref="Shape"/>.</summary>
    public required long ElementCount { get; init; }

    /// <summary>
    /// The elements as <c>ElementCount * DataType.ElementSize()</c> little-endian bytes, or null when the
    /// file holds no data for this tensor: stored externally (<see cref="External"/>), absent, or strings.
    /// </summary>
    public required byte[]? Data { get; init; }

    /// <summary>The external-data reference, or null when the data is (or would be) inside the model file.</summary>
    public required OnnxExternalData? External { get; init; }

    /// <summary>True when <see cref="Data"/> holds the elements.</summary>
    public bool HasData => Data is not null;

    /// <summary>The elements converted to float32 (floating-point and integer types; rounds to nearest).</summary>
    /// <exception cref="InvalidOperationException">The tensor has no data or a type without a conversion.</exception>
    public float[] ToFloat32() => Convert<float>();

    /// <summary>
    /// The elements converted to int64: exact for the integer and bool types (shape tensors, indices);
    /// floats are truncated toward zero and throw <see cref="OverflowException"/> when out of range.
    /// </summary>
    /// <exception cref="InvalidOperationException">The tensor has no data or a type without a conversion.</exception>
    public long[] ToInt64() => Convert<long>();

    /// <summary>This tensor as a <see cref="TensorData"/> (for writing to safetensors), sharing no memory.</summary>
    /// <exception cref="InvalidOperationException">The tensor has no data or no safetensors equivalent type.</exception>
    public TensorData ToTensorData() =>
        new(Name, RequireDType(), Shape.ToArray(), (byte[])RequireData().Clone());

    T[] Convert<T>() where T : unmanaged, System.Numerics.INumberBase<T>
    {
        var dtype = RequireDType();
        var data = RequireData();
        var result = new T[ElementCount];
        ElementConversion.Convert<T>(data, dtype, result);
        return result;
    }

    byte[] RequireData() => Data ?? throw new InvalidOperationException(
        $"ONNX tensor '{Name}' has no data in the model file" +
        (External is { } e ? $" (stored externally in '{e.Location}')" : ""));

    DType RequireDType() => DataType.ToDType() ?? throw new InvalidOperationException(
        $"ONNX tensor '{Name}' has element type {DataType}, which has no conversion here");

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {DataType}[{string.Join(", ", Shape)}]";
}
