using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Hybrid.Core.Nn.Formats.Safetensors;

/// <summary>Writes safetensors files that the reference implementation and PyTorch load unchanged.</summary>
public static class SafetensorsWriter
{
    /// <summary>
    /// Writes <paramref name="tensors"/>, in the given order, and optional string
    /// <paramref name="metadata"/> to <paramref name="path"/>, replacing any existing file.
    /// </summary>
    /// <remarks>
    /// The file is written under a temporary name in the same folder and renamed into place, so readers
    /// see the old file or the complete new one, and a failure part-way leaves no half-written file.
    /// </remarks>
    /// <exception cref="ArgumentException">
    /// A tensor's data does not match its dtype and shape, a name repeats, or a tensor is named
    /// <c>__metadata__</c>.
    /// </exception>
    public static void Write(string path, IEnumerable<TensorData> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        ElementConversion.RequireLittleEndianHost();
        var list = tensors.ToList();
        Validate(list, metadata, path);
        var header = EncodeHeader(list, metadata);

        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
            stream.Write(prefix);
            stream.Write(header);
            foreach (var tensor in list)
                stream.Write(tensor.Data);
        });
    }

    static void Validate(List<TensorData> tensors, IReadOnlyDictionary<string, string>? metadata, string path)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tensor in tensors)
        {
            if (tensor is null)
                throw new ArgumentException($"{path}: the tensor list holds a null entry", nameof(tensors));
            if (tensor.Problem() is { } problem)
                throw new ArgumentException($"{path}: {problem}", nameof(tensors));
            if (!names.Add(tensor.Name))
                throw new ArgumentException($"{path}: tensor '{tensor.Name}' appears more than once", nameof(tensors));
        }
        if (metadata is not null && metadata.Any(kv => kv.Key is null || kv.Value is null))
            throw new ArgumentException($"{path}: metadata keys and values must not be null", nameof(metadata));
    }

    /// <summary>
    /// The header JSON, padded with spaces to a multiple of 8 bytes as the reference implementation does,
    /// so the data buffer starts 8-byte aligned in the file.
    /// </summary>
    static byte[] EncodeHeader(List<TensorData> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // The relaxed encoder leaves names such as "a+b" or non-ASCII text readable; the output is still
        // valid JSON, and the header is never embedded in HTML where the stricter escaping matters.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata)
                    json.WriteString(key, value);
                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var tensor in tensors)
            {
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", tensor.DType.HeaderName());
                json.WriteStartArray("shape");
                foreach (var dim in tensor.Shape)
                    json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + tensor.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += tensor.Data.Length;
            }
            json.WriteEndObject();
        }

        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }
}
