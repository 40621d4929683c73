namespace Hybrid.Core.Nn;

/// <summary>What the autograd graph keeps alive: while a census is open on a thread, every array that an op recorded
/// there produced is noted, with the op's name, without keeping it alive; <see cref="Alive"/> then collects garbage and
/// counts the arrays that something still holds, by the op that produced them. Taken at the end of a forward, with only
/// the loss held, that is what the graph saves for the backward (PyTorch's saved tensors).</summary>
/// <remarks>An array the forward handed back to the storage pool counts as free, not alive; an array that several ops
/// produced in turn (a pooled array rented again) counts under the last. Arrays no recorded op produced (the input batch,
/// the parameters) are not counted.</remarks>
public sealed class ActivationCensus : IDisposable
{
    [ThreadStatic] static ActivationCensus? open;

    readonly ActivationCensus? outer;
    readonly System.Runtime.CompilerServices.ConditionalWeakTable<Array, string> producers = new();
    bool disposed;

    ActivationCensus()
    {
        outer = open;
        open = this;
    }

    /// <summary>Opens a census on this thread; disposing it closes it.</summary>
    public static ActivationCensus Start() => new();

    /// <summary>Notes <paramref name="output"/>'s array as produced by <paramref name="op"/> when a census is open.</summary>
    internal static void Produced(Tensor output, string op) => open?.producers.AddOrUpdate(output.Storage, op);

    /// <summary>After a full garbage collection: per producing op, how many of its arrays are still alive outside the
    /// storage pool and their bytes, largest first.</summary>
    public IReadOnlyList<CensusRow> Alive()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var rows = new Dictionary<string, (int Arrays, long Bytes)>();
        foreach (var (array, op) in producers)
        {
            if (StoragePool.Holds(array)) continue;
            var (n, bytes) = rows.GetValueOrDefault(op);
            rows[op] = (n + 1, bytes + (long)array.Length * System.Runtime.InteropServices.Marshal.SizeOf(array.GetType().GetElementType()!));
        }
        return rows.Select(r => new CensusRow(r.Key, r.Value.Arrays, r.Value.Bytes))
            .OrderByDescending(r => r.Bytes).ThenBy(r => r.Op, StringComparer.Ordinal).ToList();
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        open = outer;
    }
}

/// <summary>One line of an <see cref="ActivationCensus"/>: the arrays of one op that are alive and their bytes.</summary>
public sealed record CensusRow(string Op, int Arrays, long Bytes);
