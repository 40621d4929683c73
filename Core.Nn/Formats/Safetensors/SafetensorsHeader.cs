using System.Text.Json;
using System.Text.Unicode;

namespace Hybrid.Core.Nn.Formats.Safetensors;

/// <summary>
/// The parsed header of a safetensors file, checked so that every tensor's byte range is safe to read:
/// after <see cref="Read"/> returns, no later access needs another bounds check against the file.
/// </summary>
internal sealed class SafetensorsHeader
{
    /// <summary>
    /// The reference implementation's limit. Real headers are at most a few megabytes; a larger length is
    /// a corrupt or hostile prefix, and refusing it keeps us from allocating gigabytes on its say-so.
    /// </summary>
    internal const long MaxHeaderLength = 100_000_000;

    internal const string MetadataKey = "__metadata__";

    SafetensorsHeader(IReadOnlyDictionary<string, string> metadata, IReadOnlyList<TensorEntry> tensors,
        long dataStart, long fileLength)
    {
        Metadata = metadata;
        Tensors = tensors;
        DataStart = dataStart;
        FileLength = fileLength;
    }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensors sorted by offset, which for a valid file is also the order of the data.</summary>
    public IReadOnlyList<TensorEntry> Tensors { get; }

    /// <summary>Position in the file of the first data byte: 8 plus the header length.</summary>
    public long DataStart { get; }

    /// <summary>The file length the offsets were validated against.</summary>
    public long FileLength { get; }

    /// <summary>Reads the length prefix and header from the start of <paramref name="stream"/> and validates them.</summary>
    public static SafetensorsHeader Read(Stream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw new InputException(path,
                $"file is {fileLength} bytes, shorter than the 8-byte header length prefix (truncated)");

        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderLength)
            throw new InputException(path,
                $"header length {headerLength} exceeds the limit of {MaxHeaderLength} bytes");
        if ((long)headerLength > fileLength - 8)
            throw new InputException(path,
                $"header length {headerLength} exceeds the file size {fileLength} (truncated)");

        var json = new byte[headerLength];
        stream.ReadExactly(json);
        long dataStart = 8 + (long)headerLength;
        return Parse(json, dataStart, fileLength, path);
    }

    static SafetensorsHeader Parse(byte[] json, long dataStart, long fileLength, string path)
    {
        // The JSON parser checks structure but decodes strings only when they are read, so bad bytes in a
        // name would otherwise surface later as an unrelated exception.
        if (!Utf8.IsValid(json))
            throw new InputException(path, "header is not valid UTF-8");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InputException(path, $"header is not valid JSON ({e.Message})", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InputException(path, $"header is a JSON {Kind(root)}, not an object");

            long dataLength = fileLength - dataStart;
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            List<TensorEntry> entries;
            try
            {
                entries = ReadEntries(root, metadata, dataLength, path);
            }
            catch (InvalidOperationException e)
            {
                // Valid UTF-8 can still escape an unpaired surrogate ("\ud800"), which System.Text.Json refuses to decode.
                throw new InputException(path, $"header holds a string that is not valid Unicode ({e.Message})", e);
            }

            entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            CheckLayout(entries, dataLength, path);
            return new SafetensorsHeader(metadata, entries, dataStart, fileLength);
        }
    }

    static List<TensorEntry> ReadEntries(JsonElement root, Dictionary<string, string> metadata, long dataLength, string path)
    {
        var entries = new List<TensorEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            // JSON permits repeated keys and parsers disagree on which one wins; refusing is the only
            // reading on which every tool agrees.
            if (!seen.Add(property.Name))
                throw new InputException(path, $"header names '{property.Name}' more than once");
            if (property.Name == MetadataKey)
                ReadMetadata(property.Value, metadata, path);
            else
                entries.Add(new EntryParser(path, property.Name).Parse(property.Value, dataLength));
        }
        return entries;
    }

    static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string path)
    {
        // The reference implementation models metadata as optional, so an explicit null means "none".
        if (value.ValueKind == JsonValueKind.Null)
            return;
        if (value.ValueKind != JsonValueKind.Object)
            throw new InputException(path, $"{MetadataKey} is a JSON {Kind(value)}, not an object of strings");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new InputException(path,
                    $"{MetadataKey} value of '{item.Name}' is a JSON {Kind(item.Value)}, not a string");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw new InputException(path, $"{MetadataKey} names '{item.Name}' more than once");
        }
    }

    /// <summary>
    /// Requires the sorted ranges to tile the data buffer exactly, as the reference implementation does:
    /// an overlap lets one tensor's writes show through another, and a hole or tail hides bytes no
    /// tensor accounts for.
    /// </summary>
    static void CheckLayout(List<TensorEntry> sorted, long dataLength, string path)
    {
        long covered = 0;
        TensorEntry? previous = null;
        foreach (var entry in sorted)
        {
            if (entry.Begin < covered)
                throw new InputException(path,
                    $"tensors '{previous!.Name}' (bytes [{previous.Begin}, {previous.End})) and " +
                    $"'{entry.Name}' (bytes [{entry.Begin}, {entry.End})) overlap");
            if (entry.Begin > covered)
                throw new InputException(path, previous is null
                    ? $"gap: data bytes [0, {entry.Begin}) before tensor '{entry.Name}' belong to no tensor"
                    : $"gap: data bytes [{covered}, {entry.Begin}) between tensors '{previous.Name}' and '{entry.Name}' belong to no tensor");
            covered = entry.End;
            previous = entry;
        }
        if (covered != dataLength)
            throw new InputException(path,
                $"the data buffer holds {dataLength} bytes but the tensors cover only {covered} (trailing bytes)");
    }

    internal static string Kind(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };
}
