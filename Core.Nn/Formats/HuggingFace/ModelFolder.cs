using System.Text.Json;

namespace Hybrid.Core.Nn.Formats.HuggingFace;

/// <summary>The kind of weight files a <see cref="ModelFolder"/> holds.</summary>
public enum WeightFormat
{
    /// <summary><c>model.safetensors</c>, or shards named by <c>*.safetensors.index.json</c>.</summary>
    Safetensors,
    /// <summary><c>pytorch_model.bin</c> (a <c>torch.save</c> file), or shards named by <c>pytorch_model.bin.index.json</c>.</summary>
    PyTorch,
}

/// <summary>
/// A Hugging Face model folder (<c>config.json</c> beside the weights) or a hub cache entry
/// (<c>models--org--name</c>, whose <c>snapshots/REV</c> folder named by <c>refs/main</c>, else the newest, is the model
/// folder), resolved to its weight files without reading any weights. Safetensors weights win over PyTorch ones when a
/// folder has both, as in <c>transformers</c>.
/// </summary>
public sealed class ModelFolder
{
    ModelFolder() { }

    /// <summary>The folder as the caller named it.</summary>
    public required string Path { get; init; }

    /// <summary>The folder holding the files: <see cref="Path"/> itself, or the snapshot of a hub cache entry.</summary>
    public required string Directory { get; init; }

    /// <summary>Whether the weights are safetensors or PyTorch files.</summary>
    public required WeightFormat Format { get; init; }

    /// <summary>The weight files (full paths): the shards in the order the index first names them, else the single file
    /// or, without an index, every <c>*.safetensors</c> file sorted by name.</summary>
    public required IReadOnlyList<string> WeightFiles { get; init; }

    /// <summary>For a sharded model, the index's map from tensor name to shard file name; null otherwise.</summary>
    public required IReadOnlyDictionary<string, string>? WeightMap { get; init; }

    /// <summary><c>config.json</c>'s <c>model_type</c>, when present.</summary>
    public required string? ModelType { get; init; }

    /// <summary><c>config.json</c>'s <c>architectures</c> (empty when absent).</summary>
    public required IReadOnlyList<string> Architectures { get; init; }

    /// <summary>Resolves <paramref name="path"/>, a model folder or hub cache entry.</summary>
    /// <exception cref="InputException">The folder is missing, has no weights, or its index or config.json is
    /// malformed; the message names the file at fault.</exception>
    public static ModelFolder Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!System.IO.Directory.Exists(path))
            throw new InputException(path, "no such folder");
        var dir = Snapshot(path);
        var (modelType, architectures) = Config(dir);
        var (format, files, map) = Weights(path, dir);
        return new ModelFolder
        {
            Path = path,
            Directory = dir,
            Format = format,
            WeightFiles = files,
            WeightMap = map,
            ModelType = modelType,
            Architectures = architectures,
        };
    }

    static (WeightFormat, IReadOnlyList<string>, IReadOnlyDictionary<string, string>?) Weights(string path, string dir)
    {
        var index = System.IO.Directory.GetFiles(dir, "*.safetensors.index.json").Order(StringComparer.Ordinal).FirstOrDefault();
        if (index is not null)
            return Sharded(dir, WeightFormat.Safetensors, index);
        var safetensors = System.IO.Directory.GetFiles(dir, "*.safetensors").Order(StringComparer.Ordinal).ToList();
        if (safetensors.Count > 0)
            return (WeightFormat.Safetensors, safetensors, null);
        var binIndex = System.IO.Path.Combine(dir, "pytorch_model.bin.index.json");
        if (File.Exists(binIndex))
            return Sharded(dir, WeightFormat.PyTorch, binIndex);
        var bin = System.IO.Path.Combine(dir, "pytorch_model.bin");
        if (File.Exists(bin))
            return (WeightFormat.PyTorch, [bin], null);
        throw new InputException(path,
            "no weights in this folder (model.safetensors, *.safetensors shards with their *.safetensors.index.json, or pytorch_model.bin)");
    }

    static (WeightFormat, IReadOnlyList<string>, IReadOnlyDictionary<string, string>?) Sharded(string dir, WeightFormat format,
        string index)
    {
        var map = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        using (var doc = ParseJson(index, format))
        {
            if (!doc.RootElement.TryGetProperty("weight_map", out var weights) || weights.ValueKind != JsonValueKind.Object)
                throw Fail(index, format, "no \"weight_map\" object in the shard index");
            foreach (var entry in weights.EnumerateObject())
            {
                var file = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : "";
                // A shard must be a file beside the index: a name such as ../../x would read outside the model.
                if (file.Length == 0 || file != System.IO.Path.GetFileName(file) || file is "." or "..")
                    throw Fail(index, format, $"weight_map gives tensor '{entry.Name}' the shard {entry.Value.GetRawText()}, not a file name in this folder");
                map[entry.Name] = file;
            }
        }
        var files = map.Values.Distinct(StringComparer.Ordinal).Select(f => System.IO.Path.Combine(dir, f)).ToList();
        return (format, files, map);
    }

    /// <summary>The folder a hub cache entry's refs/main names under snapshots/, else its newest snapshot; any other
    /// folder is its own model folder.</summary>
    static string Snapshot(string dir)
    {
        var snapshots = System.IO.Path.Combine(dir, "snapshots");
        if (!System.IO.Directory.Exists(snapshots))
            return dir;
        var main = System.IO.Path.Combine(dir, "refs", "main");
        if (File.Exists(main))
        {
            var revision = File.ReadAllText(main).Trim();
            var named = System.IO.Path.Combine(snapshots, revision);
            if (revision.Length > 0 && revision == System.IO.Path.GetFileName(revision) && System.IO.Directory.Exists(named))
                return named;
        }
        return System.IO.Directory.GetDirectories(snapshots).OrderByDescending(System.IO.Directory.GetLastWriteTimeUtc).FirstOrDefault()
            ?? throw new InputException(dir, "hub cache entry without snapshots");
    }

    static (string? ModelType, IReadOnlyList<string> Architectures) Config(string dir)
    {
        var path = System.IO.Path.Combine(dir, "config.json");
        if (!File.Exists(path))
            return (null, []);
        using var doc = ParseJson(path, WeightFormat.Safetensors, "config.json");
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            return (null, []);
        string? modelType = root.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String ? type.GetString() : null;
        var architectures = root.TryGetProperty("architectures", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Where(a => a.ValueKind == JsonValueKind.String).Select(a => a.GetString()!).ToList()
            : [];
        return (modelType, architectures);
    }

    static JsonDocument ParseJson(string path, WeightFormat format, string what = "the shard index")
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw Fail(path, format, $"{what} is not valid JSON ({e.Message})", e);
        }
        catch (IOException e)
        {
            throw Fail(path, format, $"cannot read {what}: {e.Message}", e);
        }
    }

    /// <summary>A problem with a folder's files, raised as the exception of the weights' format.</summary>
    internal static InputException Fail(string path, WeightFormat format, string problem, Exception? inner = null) =>
        format == WeightFormat.PyTorch ? new InputException(path, problem, inner) : new InputException(path, problem, inner);
}
