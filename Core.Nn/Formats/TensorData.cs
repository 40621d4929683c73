using Hybrid.Core.Nn.Formats.Safetensors;

namespace Hybrid.Core.Nn.Formats;

/// <summary>
/// A tensor to be written by <see cref="SafetensorsWriter"/>: name, element type, shape and the raw
/// little-endian bytes. The typed factories build the bytes from .NET arrays and check the shape.
/// </summary>
/// <param name="Name">The header key; any string except <c>__metadata__</c>.</param>
/// <param name="DType">The element type.</param>
/// <param name="Shape">Dimensions, outermost first; empty for a scalar.</param>
/// <param name="Data">Exactly <c>product(Shape) * DType.ElementSize()</c> bytes.</param>
public sealed record TensorData(string Name, DType DType, long[] Shape, byte[] Data)
{
    /// <summary>An F32 tensor holding a copy of <paramref name="values"/>.</summary>
    public static TensorData Float32(string name, long[] shape, float[] values) =>
        Create(name, DType.F32, shape, ElementConversion.ToBytes<float>(values));

    /// <summary>An F64 tensor holding a copy of <paramref name="values"/>.</summary>
    public static TensorData Float64(string name, long[] shape, double[] values) =>
        Create(name, DType.F64, shape, ElementConversion.ToBytes<double>(values));

    /// <summary>An I64 tensor holding a copy of <paramref name="values"/>.</summary>
    public static TensorData Int64(string name, long[] shape, long[] values) =>
        Create(name, DType.I64, shape, ElementConversion.ToBytes<long>(values));

    /// <summary>An I32 tensor holding a copy of <paramref name="values"/>.</summary>
    public static TensorData Int32(string name, long[] shape, int[] values) =>
        Create(name, DType.I32, shape, ElementConversion.ToBytes<int>(values));

    /// <summary>A U8 tensor holding a copy of <paramref name="values"/>.</summary>
    public static TensorData UInt8(string name, long[] shape, byte[] values) =>
        Create(name, DType.U8, shape, ElementConversion.ToBytes<byte>(values));

    /// <summary>A BOOL tensor: one byte per value, 1 for true and 0 for false.</summary>
    public static TensorData Bool(string name, long[] shape, bool[] values) =>
        Create(name, DType.Bool, shape, values.Select(v => v ? (byte)1 : (byte)0).ToArray());

    /// <summary>An F16 tensor holding a copy of <paramref name="values"/>.</summary>
    public static TensorData Float16(string name, long[] shape, Half[] values) =>
        Create(name, DType.F16, shape, ElementConversion.ToBytes<Half>(values));

    /// <summary>An F16 tensor of <paramref name="values"/> rounded to half precision (nearest, ties to even).</summary>
    public static TensorData Float16(string name, long[] shape, float[] values) =>
        Float16(name, shape, values.Select(v => (Half)v).ToArray());

    /// <summary>A BF16 tensor of <paramref name="values"/> rounded to bfloat16 (nearest, ties to even; NaN stays NaN).</summary>
    public static TensorData BFloat16(string name, long[] shape, float[] values) =>
        Create(name, DType.BF16, shape,
            ElementConversion.ToBytes<ushort>(values.Select(Formats.BFloat16.FromSingle).ToArray()));

    static TensorData Create(string name, DType dtype, long[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var tensor = new TensorData(name, dtype, (long[])shape.Clone(), data);
        return tensor.Problem() is { } problem ? throw new ArgumentException(problem) : tensor;
    }

    /// <summary>What makes this tensor unwritable, or null when it is fine.</summary>
    internal string? Problem()
    {
        if (Name is null || Shape is null || Data is null)
            return "a TensorData has a null Name, Shape or Data";
        if (Name == SafetensorsHeader.MetadataKey)
            return $"'{SafetensorsHeader.MetadataKey}' is reserved for metadata and cannot name a tensor";
        if (Shape.Any(d => d < 0))
            return $"tensor '{Name}': shape {TensorEntry.FormatShape(Shape)} has a negative dimension";
        long expected;
        try
        {
            expected = checked(TensorEntry.CountElements(Shape) * DType.ElementSize());
        }
        catch (OverflowException)
        {
            return $"tensor '{Name}': shape {TensorEntry.FormatShape(Shape)} has too many elements";
        }
        return Data.Length == expected
            ? null
            : $"tensor '{Name}': {DType.HeaderName()} {TensorEntry.FormatShape(Shape)} needs {expected} bytes but has {Data.Length} bytes of data";
    }
}
