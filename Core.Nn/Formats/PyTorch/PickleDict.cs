namespace Hybrid.Core.Nn.Formats.PyTorch;

// The values an unpickled checkpoint is made of. Python objects map to plain .NET values where one fits
// (None -> null, bool, long or BigInteger, double, string, byte[], List<object?>), and to the records
// below otherwise. Nothing here can run code: a global is only ever one of the allowlisted values.

/// <summary>A Python tuple.</summary>
internal sealed record PickleTuple(object?[] Items)
{
    public override string ToString() => $"tuple of {Items.Length}";
}

/// <summary>
/// A Python dict or OrderedDict, in insertion order. Keys are compared by value for the types a state
/// dict uses (strings, integers); <see cref="State"/> holds what a BUILD opcode set (an OrderedDict's
/// <c>_metadata</c>), kept but not interpreted.
/// </summary>
internal sealed class PickleDict
{
    readonly List<KeyValuePair<object, object?>> items = [];
    readonly Dictionary<object, int> index = [];

    public IReadOnlyList<KeyValuePair<object, object?>> Items => items;

    public object? State { get; set; }

    /// <summary>Sets <paramref name="key"/>, keeping the first insertion's position as Python does.</summary>
    public void Set(object key, object? value)
    {
        if (index.TryGetValue(key, out var at))
            items[at] = new(key, value);
        else
        {
            index[key] = items.Count;
            items.Add(new(key, value));
        }
    }

    public bool TryGet(object key, out object? value)
    {
        if (index.TryGetValue(key, out var at))
        {
            value = items[at].Value;
            return true;
        }
        value = null;
        return false;
    }

    public override string ToString() => $"dict of {items.Count}";
}

/// <summary>An allowlisted callable: REDUCE and NEWOBJ apply it to their argument tuple.</summary>
/// <param name="Name">The global as <c>module.name</c>, for error messages.</param>
/// <param name="Apply">Builds the value from the arguments; throws <see cref="PickleException"/> on bad ones.</param>
internal sealed record PickleCallable(string Name, Func<object?[], object?> Apply)
{
    public override string ToString() => Name;
}
