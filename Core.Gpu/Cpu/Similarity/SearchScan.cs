namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The Cpu backend's exact search. A tile of queries is scored against one block of stored rows at a time by an
/// SGEMM (OpenBLAS, or the managed GEMM), and each block's scores go straight into the per-query bounded lists while they
/// are still in cache, so the queries x rows score matrix never exists as a whole. Core w takes blocks w, w + cores, ...,
/// each core with its own score buffer and lists, merged in core order at the end of a tile. The result would not depend
/// on the split either way (each block's scores depend only on its shape, and the best k of a set under the total order of
/// <see cref="SearchHit.Precedes"/> are unique); the fixed split makes every multi-block search exercise the merge. The rows
/// live in <see cref="SearchStorage"/> (huge pages): with them a one-query GEMM streams the rows at memory bandwidth, as
/// fast as NumPy's GEMV (measured), so one code path serves every batch size.</summary>
internal sealed unsafe class SearchScan : ISearchKernels
{
    public static readonly SearchScan Instance = new();

    /// <summary>Stored rows per GEMM: 512 CKA encodings (5,050 floats) are 10 MB read once per query tile, enough columns
    /// for OpenBLAS to amortise packing, and the tile x 512 scores (at most 512 KB) stay in L2 for the selection.</summary>
    internal const int BlockRows = 512;

    /// <summary>Queries scored together: enough rows of A for the GEMM to be compute-bound rather than bound by reading the
    /// stored rows.</summary>
    const int MaxQueryTile = 256;

    /// <summary>Entries of each core's lists (8 bytes each); large k gets a smaller query tile.</summary>
    const int MaxListEntries = 1 << 20;

    SearchScan() { }

    public DeviceArray<float> Store(Device device, ReadOnlySpan<float> rows)
    {
        var storage = new SearchStorage(device, rows.Length);
        storage.CopyFrom(rows);
        return storage;
    }

    public SearchHit[][] Search(IReadOnlyList<EncodingShard> shards, int dimension, ReadOnlySpan<float> queries, int queryCount, int k,
        ReadOnlySpan<int> exclude)
    {
        var blocks = new List<(EncodingShard Shard, int Start, int Rows)>();
        foreach (var shard in shards)
            for (int start = 0; start < shard.Rows; start += BlockRows)
                blocks.Add((shard, start, Math.Min(BlockRows, shard.Rows - start)));

        int tile = Math.Clamp(MaxListEntries / k, 1, Math.Min(MaxQueryTile, queryCount));
        int workers = Math.Min(Environment.ProcessorCount, blocks.Count);
        var lists = new SearchTopK[workers];
        var buffers = new float[workers][];
        float[] q = queries.ToArray();
        int[] excluded = exclude.ToArray();
        var results = new SearchHit[queryCount][];

        for (int firstQuery = 0; firstQuery < queryCount; firstQuery += tile)
        {
            int count = Math.Min(tile, queryCount - firstQuery);
            Parallel.For(0, workers, w =>
            {
                var top = lists[w] ??= new SearchTopK(tile, k);
                var scores = buffers[w] ??= new float[tile * BlockRows];
                top.Clear();
                fixed (float* qp = q, sp = scores)
                {
                    for (int i = w; i < blocks.Count; i += workers)
                    {
                        var (shard, start, rows) = blocks[i];
                        float* stored = SearchStorage.Of(shard.Encodings) + (long)start * dimension;
                        // On this core only: the other cores are busy with other blocks.
                        var gemm = GemmShape.Dense(Transpose.No, Transpose.Yes, count, rows, dimension);
                        Sgemm.Serial(gemm, qp + (long)firstQuery * dimension, stored, sp);
                        Select(top, sp, count, rows, HostArray<int>.Of(shard.Groups), start, shard.FirstRow, excluded, firstQuery);
                    }
                }
            });
            for (int i = 0; i < count; i++)
            {
                for (int w = 1; w < workers; w++) lists[w].MergeInto(i, lists[0], i);
                results[firstQuery + i] = lists[0].Hits(i);
            }
        }
        return results;
    }

    /// <summary>Offers the scores of one block (count x rows, query-major) to the queries' lists, skipping each query's
    /// excluded group. The threshold test comes first: most scores fail it, and they cost one comparison.</summary>
    static void Select(SearchTopK top, float* scores, int count, int rows, int[] groups, int start, int firstRow, int[] exclude,
        int firstQuery)
    {
        for (int i = 0; i < count; i++)
        {
            float* s = scores + (long)i * rows;
            int skip = exclude[firstQuery + i];
            float threshold = top.Threshold(i);
            for (int r = 0; r < rows; r++)
            {
                if (s[r] < threshold) continue;
                if (skip != EncodingIndex.NoGroup && groups[start + r] == skip) continue;
                top.Offer(i, s[r], firstRow + start + r);
                threshold = top.Threshold(i);
            }
        }
    }
}
