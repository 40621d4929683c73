using System.Text.Json;

namespace Hybrid.Core.Nn.Formats.Safetensors;

/// <summary>
/// Turns one header value such as <c>{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}</c> into a
/// <see cref="TensorEntry"/>, checking it on its own: field types, dtype, shape, and that the byte range
/// fits both the shape and the data buffer. How entries relate to each other is checked by the header.
/// </summary>
internal readonly struct EntryParser(string path, string name)
{
    public TensorEntry Parse(JsonElement value, long dataLength)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Fail($"expected an object with dtype, shape and data_offsets, found a JSON {SafetensorsHeader.Kind(value)}");

        var dtype = ParseDType(Field(value, "dtype", JsonValueKind.String));
        var shape = ParseShape(Field(value, "shape", JsonValueKind.Array));
        var (begin, end) = ParseOffsets(Field(value, "data_offsets", JsonValueKind.Array));

        long expected;
        try
        {
            expected = checked(TensorEntry.CountElements(shape) * dtype.ElementSize());
        }
        catch (OverflowException)
        {
            throw Fail($"shape {TensorEntry.FormatShape(shape)} has more elements than a file can hold");
        }
        if (end - begin != expected)
            throw Fail($"{dtype.HeaderName()} {TensorEntry.FormatShape(shape)} needs {expected} bytes " +
                       $"but data_offsets [{begin}, {end}] span {end - begin}");
        if (end > dataLength)
            throw Fail($"data_offsets [{begin}, {end}] are out of range of the {dataLength}-byte data buffer");

        return new TensorEntry(name, dtype, shape, begin, end);
    }

    JsonElement Field(JsonElement entry, string field, JsonValueKind kind)
    {
        if (!entry.TryGetProperty(field, out var value))
            throw Fail($"the '{field}' field is missing");
        if (value.ValueKind != kind)
            throw Fail($"'{field}' is a JSON {SafetensorsHeader.Kind(value)}, expected {(kind == JsonValueKind.String ? "a string" : "an array")}");
        return value;
    }

    DType ParseDType(JsonElement value)
    {
        var text = value.GetString()!;
        if (!DTypeInfo.TryParseHeaderName(text, out var dtype))
            throw Fail($"unknown dtype '{text}' (supported: {string.Join(", ", DTypeInfo.All.Select(d => d.HeaderName()))})");
        return dtype;
    }

    long[] ParseShape(JsonElement value)
    {
        var shape = new long[value.GetArrayLength()];
        int i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out shape[i]))
                throw Fail($"shape {value.GetRawText()} holds {item.GetRawText()}, which is not an integer");
            if (shape[i] < 0)
                throw Fail($"shape {value.GetRawText()} has the negative dimension {shape[i]}");
            i++;
        }
        return shape;
    }

    (long Begin, long End) ParseOffsets(JsonElement value)
    {
        var raw = value.GetRawText();
        if (value.GetArrayLength() != 2)
            throw Fail($"data_offsets {raw} should be [begin, end]");
        var begin = value[0];
        var end = value[1];
        if (begin.ValueKind != JsonValueKind.Number || !begin.TryGetInt64(out var b) || b < 0 ||
            end.ValueKind != JsonValueKind.Number || !end.TryGetInt64(out var e) || e < 0)
            throw Fail($"data_offsets {raw} should be two non-negative integers [begin, end]");
        if (b > e)
            throw Fail($"data_offsets {raw} end before they begin");
        return (b, e);
    }

    InputException Fail(string problem) => new(path, $"tensor '{name}': {problem}");
}
