namespace Hybrid.Core.Gpu.Reference;

/// <summary>The specification of the exact search: every non-excluded row is scored (a float64 dot product rounded once
/// to float32), all scores are sorted by <see cref="SearchHit.Precedes"/>, and the first k are the answer.</summary>
internal sealed class ReferenceSearch : ISearchKernels
{
    public static readonly ReferenceSearch Instance = new();

    ReferenceSearch() { }

    public DeviceArray<float> Store(Device device, ReadOnlySpan<float> rows, int dimension) => device.Upload(rows);

    public double Sum(IReadOnlyList<EncodingShard> shards)
    {
        double total = 0;
        foreach (var shard in shards)
            foreach (float value in HostArray<float>.Of(shard.Encodings)) total += value;
        return total;
    }

    public SearchHit[][] Search(IReadOnlyList<EncodingShard> shards, int dimension, ReadOnlySpan<float> queries, int queryCount, int k,
        ReadOnlySpan<int> exclude)
    {
        var results = new SearchHit[queryCount][];
        for (int q = 0; q < queryCount; q++)
        {
            var query = queries.Slice(q * dimension, dimension);
            var scored = new List<SearchHit>();
            foreach (var shard in shards)
            {
                float[] rows = HostArray<float>.Of(shard.Encodings);
                int[] groups = HostArray<int>.Of(shard.Groups);
                for (int r = 0; r < shard.Rows; r++)
                {
                    if (exclude[q] != EncodingIndex.NoGroup && groups[r] == exclude[q]) continue;
                    double dot = 0;
                    for (int j = 0; j < dimension; j++) dot += (double)query[j] * rows[r * dimension + j];
                    scored.Add(new SearchHit(shard.FirstRow + r, (float)dot));
                }
            }
            scored.Sort(SearchHit.Compare);
            results[q] = [.. scored.Take(k)];
        }
        return results;
    }
}
