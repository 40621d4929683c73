using System.IO.Compression;

namespace Hybrid.Core.Nn.Formats.PyTorch;

/// <summary>
/// Reads the state dict of a file written by <c>torch.save</c>, in the zip format (PyTorch 1.6 and later)
/// or the legacy format (before 1.6), without running anything from the file: the pickles are read by a
/// data-only unpickler whose globals are limited to <c>collections.OrderedDict</c>, the tensor and
/// parameter rebuild functions and the storage classes.
/// </summary>
public static class TorchCheckpoint
{
    // torch/serialization.py: the legacy format starts with this number, then protocol version 1001.
    static readonly BigInteger LegacyMagic = BigInteger.Parse("119547037146038801333356");
    const long LegacyProtocol = 1001;

    /// <summary>
    /// Loads the tensors of <paramref name="path"/>. The checkpoint may be a state dict or a dict that
    /// wraps one under <c>state_dict</c>, <c>model_state_dict</c> or <c>model</c> (other entries, such as
    /// <c>best_prec1</c>, are ignored). Storages saved on a GPU (<c>cuda:0</c>) load to the host; keys keep
    /// any <c>module.</c> prefix (see <see cref="TorchStateDict.WithoutPrefix"/>); BatchNorm state without
    /// <c>num_batches_tracked</c> loads as it is.
    /// </summary>
    /// <exception cref="InputException">
    /// The file is missing, unreadable, truncated or malformed, names a Python global outside the allowlist
    /// (the message names it as <c>module.name</c>), or holds no state dict of tensors.
    /// </exception>
    public static TorchStateDict Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        ElementConversion.RequireLittleEndianHost();
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            Span<byte> start = stackalloc byte[4];
            int got = stream.ReadAtLeast(start, 4, throwOnEndOfStream: false);
            stream.Position = 0;
            if (got == 4 && start.SequenceEqual("PK\u0003\u0004"u8))
                return LoadZip(path, stream);
            if (got >= 1 && start[0] == 0x80)
                return LoadLegacy(path, stream);
            throw new InputException(path, "not a torch.save file: it starts neither with a zip header nor with a pickle");
        }
        catch (PickleException e)
        {
            throw new InputException(path, e.Message, e);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            // FileNotFound, EndOfStream and a corrupt zip directory or entry all land here.
            throw new InputException(path, $"cannot read the file: {e.Message}", e);
        }
    }

    static TorchStateDict LoadZip(string path, FileStream stream)
    {
        using var zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        // torch.save names the top folder after the file (archive/, model/, ...): find its data.pkl.
        var pickles = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)
            && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length).ToList();
        if (pickles.Count != 1)
            throw new InputException(path, $"a zip checkpoint needs exactly one <folder>/data.pkl, found {pickles.Count}");
        var prefix = pickles[0].FullName[..^"data.pkl".Length];
        if (zip.GetEntry(prefix + "byteorder") is { } order && ReadEntry(order, 16) is var bytes
            && !bytes.AsSpan().SequenceEqual("little"u8))
            throw new InputException(path, "the checkpoint was saved on a big-endian machine, which is not supported");

        var storages = new List<StorageRef>();
        var reader = new PickleReader(ReadEntry(pickles[0], Array.MaxLength), TorchGlobals.Resolve, pid => Remember(storages, pid));
        var root = reader.Load();

        var data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var storage in storages)
        {
            if (data.ContainsKey(storage.Key))
                continue;
            var entry = zip.GetEntry(prefix + "data/" + storage.Key)
                ?? throw new InputException(path, $"storage '{storage.Key}' has no entry {prefix}data/{storage.Key}");
            long needed = NeededBytes(storage);
            if (entry.Length < needed)
                throw new InputException(path, $"storage '{storage.Key}' needs {needed} bytes but its entry has {entry.Length}");
            data[storage.Key] = ReadEntry(entry, needed);
        }
        return Tensors(path, CheckpointFormat.Zip, root, data);
    }

    static TorchStateDict LoadLegacy(string path, FileStream stream)
    {
        if (stream.Length > Array.MaxLength)
            throw new InputException(path, $"legacy checkpoints over {Array.MaxLength} bytes are not supported");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);

        var storages = new List<StorageRef>();
        var reader = new PickleReader(bytes, TorchGlobals.Resolve, pid => Remember(storages, pid));
        if (reader.Load() is not BigInteger magic || magic != LegacyMagic)
            throw new InputException(path, "not a torch.save file: the legacy magic number is missing");
        if (reader.Load() is not LegacyProtocol)
            throw new InputException(path, "unsupported legacy protocol version (expected 1001)");
        if (reader.Load() is not PickleDict info || !info.TryGet("little_endian", out var little) || little is not true)
            throw new InputException(path, "the system info does not say little-endian; big-endian checkpoints are not supported");
        var root = reader.Load();
        var keys = PickleReader.Expect<List<object?>>(reader.Load(), "storage key list");

        // After the pickles, each storage in key order: an 8-byte element count, then the elements.
        var types = new Dictionary<string, StorageRef>(StringComparer.Ordinal);
        foreach (var storage in storages)
            types.TryAdd(storage.Key, storage);
        var data = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        int position = reader.Position;
        foreach (var item in keys)
        {
            var key = PickleReader.Expect<string>(item, "storage key");
            if (!types.TryGetValue(key, out var storage))
                throw new InputException(path, $"storage '{key}' is listed but no tensor uses it, so its type is unknown");
            if (bytes.Length - position < 8)
                throw new InputException(path, $"truncated before the size of storage '{key}'");
            long count = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(position, 8));
            position += 8;
            int size = storage.DType.ElementSize();
            if (count < 0 || count > (bytes.Length - position) / size)
                throw new InputException(path, $"storage '{key}' claims {count} elements but only {bytes.Length - position} bytes remain");
            data[key] = bytes.AsSpan(position, (int)(count * size)).ToArray();
            position += (int)(count * size);
        }
        return Tensors(path, CheckpointFormat.Legacy, root, data);
    }

    static StorageRef Remember(List<StorageRef> storages, object? pid)
    {
        var storage = TorchGlobals.PersistentLoad(pid);
        storages.Add(storage);
        return storage;
    }

    // The bytes a storage must have: its declared element count, or for a legacy view, the view's end.
    static long NeededBytes(StorageRef storage)
    {
        try
        {
            long elements = storage.ViewSize is { } view ? checked(storage.ViewOffset + view) : storage.ElementCount;
            return checked(elements * storage.DType.ElementSize());
        }
        catch (OverflowException)
        {
            throw new PickleException($"storage '{storage.Key}' declares an impossible size");
        }
    }

    static TorchStateDict Tensors(string path, CheckpointFormat format, object? root, Dictionary<string, byte[]> data)
    {
        var dict = StateDict(path, root);
        var tensors = new List<CheckpointTensor>(dict.Items.Count);
        foreach (var (key, value) in dict.Items)
        {
            if (key is not string name)
                throw new InputException(path, $"state dict key {PickleReader.Describe(key)} is not a string");
            if (value is not TensorRef tensor)
                throw new InputException(path, $"state dict entry '{name}' is {PickleReader.Describe(value)}, not a tensor");
            if (!data.TryGetValue(tensor.Storage.Key, out var storage))
                throw new InputException(path, $"tensor '{name}' uses storage '{tensor.Storage.Key}', which the file does not hold");
            if (storage.Length < NeededBytes(tensor.Storage))
                throw new InputException(path, $"storage '{tensor.Storage.Key}' has {storage.Length} bytes, fewer than its tensors need");
            tensors.Add(new CheckpointTensor
            {
                Path = path,
                Name = name,
                DType = tensor.Storage.DType,
                Shape = tensor.Shape,
                Strides = tensor.Strides,
                StorageOffset = tensor.StorageOffset,
                SavedLocation = tensor.Storage.Location,
                Data = TensorMaterializer.Materialize(tensor, storage),
            });
        }
        return new TorchStateDict(path, format, tensors);
    }

    static readonly string[] WrapperKeys = ["state_dict", "model_state_dict", "model"];

    static PickleDict StateDict(string path, object? root)
    {
        if (root is not PickleDict dict)
            throw new InputException(path, $"the checkpoint holds {PickleReader.Describe(root)}, not a dict of tensors");
        foreach (var key in WrapperKeys)
            if (dict.TryGet(key, out var inner) && inner is PickleDict wrapped)
                return wrapped;
        return dict;
    }

    /// <summary>
    /// Reads a zip entry up to <paramref name="limit"/> bytes. The buffer grows with what the entry really
    /// holds, so a header claiming gigabytes costs nothing until the bytes are there.
    /// </summary>
    static byte[] ReadEntry(ZipArchiveEntry entry, long limit)
    {
        long length = Math.Min(entry.Length, limit);
        if (length > Array.MaxLength)
            throw new PickleException($"zip entry {entry.FullName} is too large ({entry.Length} bytes)");
        using var input = entry.Open();
        using var copy = new MemoryStream();
        var chunk = new byte[81920];
        while (copy.Length < length)
        {
            int read = input.Read(chunk, 0, (int)Math.Min(chunk.Length, length - copy.Length));
            if (read == 0)
                throw new PickleException($"zip entry {entry.FullName} ends after {copy.Length} of {length} bytes");
            copy.Write(chunk, 0, read);
        }
        return copy.ToArray();
    }
}
