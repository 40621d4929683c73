using Hybrid.Core.Gpu.Cpu;
using Hybrid.Core.Gpu.Ilgpu;
using Hybrid.Core.Gpu.Reference;

namespace Hybrid.Core.Gpu;

/// <summary>A run of consecutive stored rows held in one pair of device arrays. Indexes are cut into shards so that every
/// offset inside a shard fits an int (kernels index with ints) and no single allocation has to hold a multi-gigabyte
/// index.</summary>
/// <param name="FirstRow">The index row of the shard's first row.</param>
/// <param name="Rows">Rows in this shard.</param>
/// <param name="Encodings">Rows x dimension float32, row-major.</param>
/// <param name="Groups">The group of each row, <see cref="EncodingIndex.NoGroup"/> for none.</param>
internal sealed record EncodingShard(int FirstRow, int Rows, DeviceArray<float> Encodings, DeviceArray<int> Groups);

/// <summary>The exact top-k inner-product search of each backend. Callers (<see cref="EncodingIndex"/>) have validated
/// everything: 1 &lt;= k &lt;= the stored row count, finite queries whose scores cannot overflow, one exclusion per query
/// (<see cref="EncodingIndex.NoGroup"/> or a group id). Results follow <see cref="SearchHit.Precedes"/>; a query gets
/// fewer than k hits only when fewer rows survive its exclusion.</summary>
internal interface ISearchKernels
{
    /// <summary>A copy of <paramref name="rows"/> (row-major, <paramref name="dimension"/> floats each) in the memory of
    /// <paramref name="device"/>, laid out where and how this backend's search reads them best.</summary>
    DeviceArray<float> Store(Device device, ReadOnlySpan<float> rows, int dimension);

    /// <summary>The sum of every stored value, read once in the memory the search reads (the Cpu backend adds in float32
    /// lanes, the others in float64): a streaming read of the same bytes as a one-query search.</summary>
    double Sum(IReadOnlyList<EncodingShard> shards);

    /// <summary>The top <paramref name="k"/> rows of the shards for each of the <paramref name="queryCount"/> queries
    /// (row-major, <paramref name="dimension"/> floats each) that are not in the query's excluded group.</summary>
    SearchHit[][] Search(IReadOnlyList<EncodingShard> shards, int dimension, ReadOnlySpan<float> queries, int queryCount, int k,
        ReadOnlySpan<int> exclude);
}

/// <summary>Picks the search kernels of a device.</summary>
internal static class SearchKernels
{
    public static ISearchKernels For(Device device) => device switch
    {
        ReferenceDevice => ReferenceSearch.Instance,
        CpuDevice => SearchScan.Instance,
        GpuDevice gpu => gpu.KernelSet(g => new GpuSearchKernels(g)),
        _ => throw new ArgumentException($"search: no search kernels for device {device.Name}"),
    };
}
