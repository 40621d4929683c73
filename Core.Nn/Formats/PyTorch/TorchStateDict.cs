namespace Hybrid.Core.Nn.Formats.PyTorch;

/// <summary>The two files <c>torch.save</c> writes.</summary>
public enum CheckpointFormat
{
    /// <summary>PyTorch 1.6 and later: a zip archive holding <c>data.pkl</c> and one entry per storage.</summary>
    Zip,
    /// <summary>Before 1.6: magic number, protocol and system-info pickles, the object pickle, then the raw storages.</summary>
    Legacy,
}

/// <summary>
/// The tensors of a PyTorch checkpoint in file order, by state-dict key, as <see cref="TorchCheckpoint.Load"/>
/// returns them. Keys are exactly as saved; <see cref="WithoutPrefix"/> removes a <c>DataParallel</c>
/// <c>module.</c> prefix.
/// </summary>
public sealed class TorchStateDict
{
    readonly Dictionary<string, CheckpointTensor> byName;

    internal TorchStateDict(string path, CheckpointFormat format, IReadOnlyList<CheckpointTensor> tensors)
    {
        Path = path;
        Format = format;
        Tensors = tensors;
        byName = new Dictionary<string, CheckpointTensor>(StringComparer.Ordinal);
        foreach (var tensor in tensors)
            if (!byName.TryAdd(tensor.Name, tensor))
                throw new InputException(path, $"two tensors are named '{tensor.Name}'");
    }

    /// <summary>The file the state dict was loaded from.</summary>
    public string Path { get; }

    /// <summary>Which <c>torch.save</c> format the file has.</summary>
    public CheckpointFormat Format { get; }

    /// <summary>Every tensor, in the order of the state dict in the file.</summary>
    public IReadOnlyList<CheckpointTensor> Tensors { get; }

    /// <summary>The keys, in order.</summary>
    public IEnumerable<string> Names => Tensors.Select(t => t.Name);

    /// <summary>The number of tensors.</summary>
    public int Count => Tensors.Count;

    /// <summary>Whether there is a tensor named <paramref name="name"/> (exact, case-sensitive).</summary>
    public bool Contains(string name) => byName.ContainsKey(name);

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    /// <exception cref="InputException">There is no such tensor.</exception>
    public CheckpointTensor this[string name]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(name);
            return byName.TryGetValue(name, out var tensor)
                ? tensor
                : throw new InputException(Path, $"no tensor named '{name}' (the state dict has {Count} tensors)");
        }
    }

    /// <summary>
    /// The same tensors with <paramref name="prefix"/> removed from every key that starts with it (models
    /// saved from <c>nn.DataParallel</c> have <c>module.</c> before every key); other keys stay as they are.
    /// </summary>
    /// <exception cref="InputException">Removing the prefix makes two keys equal.</exception>
    public TorchStateDict WithoutPrefix(string prefix = "module.")
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        var renamed = Tensors.Select(t => t.Name.StartsWith(prefix, StringComparison.Ordinal)
            ? t with { Name = t.Name[prefix.Length..] }
            : t).ToList();
        return new TorchStateDict(Path, Format, renamed);
    }
}
