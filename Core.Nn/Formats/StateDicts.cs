using Hybrid.Core.Nn.Formats.HuggingFace;
using Hybrid.Core.Nn.Formats.PyTorch;
using Hybrid.Core.Nn.Formats.Safetensors;


namespace Hybrid.Core.Nn.Formats;

/// <summary>
/// Model I/O in one place: <see cref="Load"/> reads the state dict of any file or folder a user may hand over, and the
/// savers write our tensors as safetensors or as PyTorch's <c>torch.save</c> zip format, so that our models load in
/// PyTorch unchanged.
/// </summary>
public static class StateDicts
{
    const string DataParallelPrefix = "module.";

    /// <summary>
    /// The tensors of <paramref name="path"/> by state key, in file order: a <c>.safetensors</c> file; a PyTorch
    /// checkpoint (<c>torch.save</c> zip or legacy format, through the allowlisted unpickler, a state dict or a dict
    /// wrapping one under <c>state_dict</c>); a Hugging Face model folder (<c>model.safetensors</c>, sharded
    /// <c>*.safetensors.index.json</c>, or <c>pytorch_model.bin</c>) or hub cache entry
    /// (<c>models--org--name/snapshots/REV</c>). When every key starts with <c>module.</c> (a model saved from
    /// <c>nn.DataParallel</c>), the prefix is dropped. Element types: F32 loads as Float32, F64 as Float64, F16 and BF16
    /// widen to Float32, and I64, I32, U8 and BOOL load as Int64.
    /// </summary>
    /// <exception cref="InputException">The file or folder is missing, truncated, malformed or hostile: a
    /// <see cref="InputException"/> or <see cref="InputException"/> whose message is <c>"path: problem"</c>.</exception>
    public static IReadOnlyDictionary<string, Tensor> Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var state = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        if (Directory.Exists(path))
            LoadFolder(ModelFolder.Open(path), state);
        else if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            LoadSafetensors(path, state);
        else
            LoadTorch(path, state);
        return WithoutDataParallelPrefix(state);
    }

    /// <summary>Writes <paramref name="state"/> to a safetensors file (atomically: a crash leaves the old file or the new
    /// one), with optional string <paramref name="metadata"/>. Float32, Float64 and Int64 tensors are written as F32, F64
    /// and I64.</summary>
    public static void SaveSafetensors(string path, IEnumerable<KeyValuePair<string, Tensor>> state,
        IReadOnlyDictionary<string, string>? metadata = null) =>
        SaveSafetensors(path, Entries(state), metadata);

    /// <summary>Writes a module's <see cref="Modules.Module.StateDict"/> (or any key-tensor list) to a safetensors file.</summary>
    public static void SaveSafetensors(string path, IReadOnlyList<(string Key, Tensor Value)> state,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        Validate(state, nameof(state));
        SafetensorsWriter.Write(path, state.Select(e => ToTensorData(e.Key, e.Value)), metadata);
    }

    /// <summary>Writes <paramref name="state"/> as <c>torch.save</c> writes an <c>OrderedDict</c> state dict (zip format,
    /// atomically); PyTorch's <c>torch.load</c> returns it as an OrderedDict of CPU tensors.</summary>
    public static void SavePyTorch(string path, IEnumerable<KeyValuePair<string, Tensor>> state) =>
        SavePyTorch(path, Entries(state));

    /// <summary>Writes a module's <see cref="Modules.Module.StateDict"/> (or any key-tensor list) in PyTorch's zip format.</summary>
    public static void SavePyTorch(string path, IReadOnlyList<(string Key, Tensor Value)> state)
    {
        ArgumentNullException.ThrowIfNull(path);
        Validate(state, nameof(state));
        ElementConversion.RequireLittleEndianHost();
        AtomicFile.Write(path, stream => TorchSaveWriter.Write(stream, state));
    }

    static void LoadFolder(ModelFolder folder, OrderedDictionary<string, Tensor> state)
    {
        foreach (var file in folder.WeightFiles)
        {
            var shard = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
            if (folder.Format == WeightFormat.Safetensors)
                LoadSafetensors(file, shard);
            else
                LoadTorch(file, shard);
            foreach (var (key, tensor) in shard)
                if (!state.TryAdd(key, tensor))
                    throw ModelFolder.Fail(file, folder.Format, $"tensor '{key}' is also in an earlier shard of {folder.Directory}");
        }
        if (folder.WeightMap is { } map)
            foreach (var (key, file) in map)
                if (!state.ContainsKey(key))
                    throw ModelFolder.Fail(Path.Combine(folder.Directory, file), folder.Format,
                        $"the shard index places tensor '{key}' in this file, which does not hold it");
    }

    static void LoadSafetensors(string path, OrderedDictionary<string, Tensor> state)
    {
        using var file = SafetensorsFile.Open(path);
        foreach (var entry in file.Tensors)
        {
            var shape = Shape(entry.Shape, problem => new InputException(path, $"tensor '{entry.Name}': {problem}"));
            state[entry.Name] = entry.DType switch
            {
                DType.F64 => Tensor.Wrap(file.ReadFloat64(entry.Name), shape),
                DType.F32 or DType.F16 or DType.BF16 => Tensor.Wrap(file.ReadFloat32(entry.Name), shape),
                _ => Tensor.Wrap(file.ReadInt64(entry.Name), shape),
            };
        }
    }

    static void LoadTorch(string path, OrderedDictionary<string, Tensor> state)
    {
        foreach (var t in TorchCheckpoint.Load(path).Tensors)
        {
            var shape = Shape(t.Shape, problem => new InputException(path, $"tensor '{t.Name}': {problem}"));
            state[t.Name] = t.DType switch
            {
                DType.F64 => Tensor.Wrap(t.ReadFloat64(), shape),
                DType.F32 or DType.F16 or DType.BF16 => Tensor.Wrap(t.ReadFloat32(), shape),
                _ => Tensor.Wrap(t.ReadInt64(), shape),
            };
        }
    }

    // A tensor's storage is one .NET array, so its element count and every dimension must fit an int.
    static int[] Shape(long[] shape, Func<string, InputException> fail)
    {
        long count = 1;
        foreach (var dim in shape)
        {
            count *= dim;
            if (dim > int.MaxValue || count > Array.MaxLength)
                throw fail($"shape {TensorEntry.FormatShape(shape)} has more elements than one array can hold");
        }
        return Array.ConvertAll(shape, d => (int)d);
    }

    static IReadOnlyDictionary<string, Tensor> WithoutDataParallelPrefix(OrderedDictionary<string, Tensor> state)
    {
        if (state.Count == 0 || !state.Keys.All(k => k.StartsWith(DataParallelPrefix, StringComparison.Ordinal)))
            return state;
        var renamed = new OrderedDictionary<string, Tensor>(state.Count, StringComparer.Ordinal);
        foreach (var (key, tensor) in state)
            renamed[key[DataParallelPrefix.Length..]] = tensor;
        return renamed;
    }

    static TensorData ToTensorData(string key, Tensor tensor)
    {
        var shape = Array.ConvertAll(tensor.ShapeRef, d => (long)d);
        return tensor.Storage switch
        {
            float[] f => TensorData.Float32(key, shape, f),
            double[] d => TensorData.Float64(key, shape, d),
            long[] l => TensorData.Int64(key, shape, l),
            _ => throw new InvalidOperationException(),
        };
    }

    static List<(string Key, Tensor Value)> Entries(IEnumerable<KeyValuePair<string, Tensor>> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return state.Select(e => (e.Key, e.Value)).ToList();
    }

    static void Validate(IReadOnlyList<(string Key, Tensor Value)> state, string argument)
    {
        ArgumentNullException.ThrowIfNull(state, argument);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, tensor) in state)
        {
            if (key is null || tensor is null)
                throw new ArgumentException("a state dict entry has a null key or tensor", argument);
            if (!keys.Add(key))
                throw new ArgumentException($"the state dict names '{key}' more than once", argument);
        }
    }
}
