using System.Globalization;
using System.Runtime.InteropServices;
using Hybrid.Core.Nn.Formats.Onnx.Proto;

namespace Hybrid.Core.Nn.Formats.Onnx.Reader;

/// <summary>
/// Turns a parsed <c>TensorProto</c> into an <see cref="OnnxTensor"/>, checking that the declared shape
/// and the stored element count agree. A disagreement is a malformed file and throws
/// <see cref="InputException"/>; missing data is not an error (external or absent weights must not stop
/// reading the graph).
/// </summary>
internal static class TensorDecoder
{
    public static OnnxTensor Decode(string path, TensorProto proto)
    {
        string name = proto.Name;
        InputException Bad(string problem) => new(path, $"tensor '{name}': {problem}");

        var type = (OnnxDataType)proto.DataType;
        var shape = proto.Dims.ToArray();
        long count = 1;
        foreach (long dim in shape)
        {
            if (dim < 0) throw Bad($"negative dimension {dim} in shape [{string.Join(", ", shape)}]");
            try { count = checked(count * dim); }
            catch (OverflowException) { throw Bad($"shape [{string.Join(", ", shape)}] has too many elements"); }
        }
        OnnxTensor Tensor(byte[]? data, OnnxExternalData? external = null) =>
            new() { Name = name, DataType = type, Shape = shape, ElementCount = count, Data = data, External = external };

        if (proto.DataLocation == TensorProto.Types.DataLocation.External)
            return Tensor(null, ExternalReference(proto, Bad));

        int size = type.ElementSize();
        if (size == 0)
        {
            // Strings and undefined types: the shape is all a graph reader needs.
            if (type is not (OnnxDataType.String or OnnxDataType.Undefined))
                throw Bad($"unknown element type {proto.DataType}");
            return Tensor(null);
        }
        if (count > Array.MaxLength / size)
            throw Bad($"shape [{string.Join(", ", shape)}] is too large to hold in memory");
        long bytes = count * size;

        if (!proto.RawData.IsEmpty)
        {
            if (proto.RawData.Length != bytes)
                throw Bad($"raw_data holds {proto.RawData.Length} bytes, shape [{string.Join(", ", shape)}] of {type} needs {bytes}");
            return Tensor(proto.RawData.ToByteArray());
        }
        byte[]? data = Typed(proto, type, count, Bad);
        if (data is null && count == 0) data = [];
        return Tensor(data);
    }

    /// <summary>The bytes from the typed field that the type uses, or null when that field is empty.</summary>
    static byte[]? Typed(TensorProto proto, OnnxDataType type, long count, Func<string, InputException> bad)
    {
        // Complex numbers store two values per element in the float or double field.
        long values = type is OnnxDataType.Complex64 or OnnxDataType.Complex128 ? 2 * count : count;
        void Require(int actual, string field)
        {
            if (actual != values) throw bad($"{field} holds {actual} values, the shape needs {values}");
        }

        switch (type)
        {
            case OnnxDataType.Float or OnnxDataType.Complex64 when proto.FloatData.Count > 0:
                Require(proto.FloatData.Count, "float_data");
                return MemoryMarshal.AsBytes<float>(proto.FloatData.ToArray()).ToArray();
            case OnnxDataType.Double or OnnxDataType.Complex128 when proto.DoubleData.Count > 0:
                Require(proto.DoubleData.Count, "double_data");
                return MemoryMarshal.AsBytes<double>(proto.DoubleData.ToArray()).ToArray();
            case OnnxDataType.Int64 when proto.Int64Data.Count > 0:
                Require(proto.Int64Data.Count, "int64_data");
                return MemoryMarshal.AsBytes<long>(proto.Int64Data.ToArray()).ToArray();
            case OnnxDataType.UInt64 or OnnxDataType.UInt32 when proto.Uint64Data.Count > 0:
                Require(proto.Uint64Data.Count, "uint64_data");
                return Narrow(proto.Uint64Data, type.ElementSize());
            case OnnxDataType.Int32 or OnnxDataType.Int16 or OnnxDataType.Int8 or OnnxDataType.UInt16
                or OnnxDataType.UInt8 or OnnxDataType.Bool or OnnxDataType.Float16 or OnnxDataType.BFloat16
                when proto.Int32Data.Count > 0:
                // The specification stores these (and the bits of the 16-bit floats) widened to int32.
                Require(proto.Int32Data.Count, "int32_data");
                return Narrow(proto.Int32Data.Select(v => (ulong)(uint)v).ToList(), type.ElementSize());
            default:
                return null;
        }
    }

    /// <summary>The low <paramref name="size"/> bytes of each value, little-endian.</summary>
    static byte[] Narrow(IReadOnlyList<ulong> values, int size)
    {
        var result = new byte[values.Count * size];
        Span<byte> wide = stackalloc byte[8];
        for (int i = 0; i < values.Count; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(wide, values[i]);
            wide[..size].CopyTo(result.AsSpan(i * size));
        }
        return result;
    }

    static OnnxExternalData ExternalReference(TensorProto proto, Func<string, InputException> bad)
    {
        string? location = null;
        long offset = 0;
        long? length = null;
        foreach (var entry in proto.ExternalData)
        {
            switch (entry.Key)
            {
                case "location": location = entry.Value; break;
                case "offset": offset = Number(entry); break;
                case "length": length = Number(entry); break;
            }
        }
        if (string.IsNullOrEmpty(location)) throw bad("external data without a location");
        return new OnnxExternalData(location, offset, length);

        long Number(StringStringEntryProto entry) =>
            long.TryParse(entry.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long n)
                ? n
                : throw bad($"external data {entry.Key} '{entry.Value}' is not a non-negative integer");
    }
}
