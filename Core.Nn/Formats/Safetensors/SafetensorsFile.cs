using System.IO.MemoryMappedFiles;

namespace Hybrid.Core.Nn.Formats.Safetensors;

/// <summary>
/// A safetensors file opened for reading. <see cref="Open"/> reads and validates only the header, so
/// opening a multi-gigabyte checkpoint to list its tensors costs one small read; the data is memory-mapped
/// read-only on the first tensor access and unmapped by <see cref="Dispose"/>.
/// </summary>
/// <remarks>Reads are safe from several threads at once.</remarks>
public sealed unsafe class SafetensorsFile : IDisposable
{
    readonly FileStream stream;
    readonly SafetensorsHeader header;
    readonly Dictionary<string, TensorEntry> byName;
    readonly Lock mapLock = new();
    MemoryMappedFile? map;
    MemoryMappedViewAccessor? view;
    byte* data;
    bool disposed;

    SafetensorsFile(string path, FileStream stream, SafetensorsHeader header)
    {
        Path = path;
        this.stream = stream;
        this.header = header;
        byName = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>
    /// Opens <paramref name="path"/> and validates its header: every problem (missing or truncated file,
    /// malformed JSON, unknown dtype, byte ranges that do not match their shapes or that overlap, leave gaps
    /// or run past the end) raises one <see cref="InputException"/> naming the file.
    /// </summary>
    public static SafetensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        ElementConversion.RequireLittleEndianHost();
        FileStream stream;
        try
        {
            // The handle stays open until Dispose and the mapping is made from it, not from the path: if the
            // file is replaced meanwhile (SafetensorsWriter renames over it), we keep reading the file whose
            // header we validated. FileShare.Delete is what allows that replacement on Windows.
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InputException(path, "file not found", e);
        }

        try
        {
            return new SafetensorsFile(path, stream, SafetensorsHeader.Read(stream, path));
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The path the file was opened with.</summary>
    public string Path { get; }

    /// <summary>The header's <c>__metadata__</c> entries; empty when the header has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata => header.Metadata;

    /// <summary>Every tensor, in the order of their data in the file.</summary>
    public IReadOnlyList<TensorEntry> Tensors => header.Tensors;

    /// <summary>Whether the file holds a tensor named <paramref name="name"/> (exact, case-sensitive).</summary>
    public bool Contains(string name) => byName.ContainsKey(name);

    /// <summary>The header entry of tensor <paramref name="name"/>.</summary>
    /// <exception cref="InputException">The file has no such tensor.</exception>
    public TensorEntry Entry(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return byName.TryGetValue(name, out var entry)
            ? entry
            : throw new InputException(Path, $"no tensor named '{name}' (the file has {byName.Count} tensors)");
    }

    /// <summary>
    /// The raw little-endian bytes of tensor <paramref name="name"/>, straight from the mapping without a copy.
    /// The span is valid only until this file is disposed.
    /// </summary>
    public ReadOnlySpan<byte> DataSpan(string name) => DataSpan(Entry(name));

    /// <summary>A copy of the raw little-endian bytes of tensor <paramref name="name"/>.</summary>
    public byte[] ReadBytes(string name) => DataSpan(name).ToArray();

    /// <summary>Tensor <paramref name="name"/> as floats, converted from any dtype (F16, BF16 and F32 exactly; F64 and I64 rounded to nearest; BOOL as 0 and 1).</summary>
    public float[] ReadFloat32(string name) => Read<float>(name, integersOnly: false);

    /// <summary>Tensor <paramref name="name"/> as doubles, converted exactly from any dtype except I64 beyond 2^53.</summary>
    public double[] ReadFloat64(string name) => Read<double>(name, integersOnly: false);

    /// <summary>Tensor <paramref name="name"/> as longs; the tensor must have an integer dtype (I64, I32, U8, BOOL).</summary>
    public long[] ReadInt64(string name) => Read<long>(name, integersOnly: true);

    /// <summary>
    /// Tensor <paramref name="name"/> as ints; the tensor must have an integer dtype, and I64 values must fit
    /// in an int.
    /// </summary>
    public int[] ReadInt32(string name) => Read<int>(name, integersOnly: true);

    T[] Read<T>(string name, bool integersOnly) where T : unmanaged, System.Numerics.INumberBase<T>
    {
        var entry = Entry(name);
        if (integersOnly && entry.DType.IsFloatingPoint())
            throw new InputException(Path,
                $"tensor '{name}' is {entry.DType.HeaderName()}; reading it as {typeof(T).Name} needs an integer dtype (I64, I32, U8, BOOL)");
        if (entry.ElementCount > Array.MaxLength)
            throw new InputException(Path,
                $"tensor '{name}' has {entry.ElementCount} elements, more than a .NET array can hold");

        var values = new T[entry.ElementCount];
        try
        {
            ElementConversion.Convert(DataSpan(entry), entry.DType, values.AsSpan());
        }
        catch (OverflowException e)
        {
            throw new InputException(Path,
                $"tensor '{name}' ({entry.DType.HeaderName()}) holds values outside the {typeof(T).Name} range", e);
        }
        return values;
    }

    ReadOnlySpan<byte> DataSpan(TensorEntry entry)
    {
        if (entry.ByteLength > Array.MaxLength)
            throw new InputException(Path,
                $"tensor '{entry.Name}' is {entry.ByteLength} bytes, more than one span can address");
        return new ReadOnlySpan<byte>(MappedData() + entry.Begin, (int)entry.ByteLength);
    }

    byte* MappedData()
    {
        lock (mapLock)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (data is null)
            {
                // The offsets were checked against the length seen at Open; mapping a file truncated since
                // then would turn a read past its new end into a bus error instead of an exception.
                if (stream.Length != header.FileLength)
                    throw new InputException(Path,
                        $"file changed size since it was opened ({header.FileLength} -> {stream.Length} bytes)");
                map = MemoryMappedFile.CreateFromFile(stream, mapName: null, capacity: 0,
                    MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
                view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
                byte* start = null;
                view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
                data = start + view.PointerOffset + header.DataStart;
            }
            return data;
        }
    }

    /// <summary>Unmaps the data and closes the file. Spans from <see cref="DataSpan(string)"/> become invalid.</summary>
    public void Dispose()
    {
        lock (mapLock)
        {
            if (disposed)
                return;
            disposed = true;
            if (data is not null)
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            data = null;
            view?.Dispose();
            map?.Dispose();
            stream.Dispose();
        }
    }
}
