using ILGPU;
using ILGPU.Runtime;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>The exact search on an ILGPU accelerator. Per tile of queries and per chunk of a shard's rows, the scan is the
/// tiled <see cref="GemmKernel"/> (queries x chunk rows, against the stored rows in place), then
/// <see cref="SearchSelection.Select"/> keeps k-best lists over interleaved row sets and rounds of
/// <see cref="SearchSelection.Merge"/> fold them into one list per query and chunk; a last round of merges folds the
/// chunks. Only the final k hits per query cross to the host.</summary>
internal sealed class GpuSearchKernels : ISearchKernels
{
    /// <summary>Floats of the score scratch (64 MB): it bounds the rows scored per GEMM.</summary>
    const int ScoreElements = 1 << 24;
    const int MaxQueryTile = 256;
    /// <summary>Lists folded into one per merge thread.</summary>
    const int Fan = 16;
    /// <summary>Select lists per query and chunk: enough threads to fill a GPU on one query.</summary>
    const int MaxLists = 4096;

    readonly GpuDevice device;
    readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams> gemm;
    readonly Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<int>, SelectParams> select;
    readonly Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<int>, MergeParams> merge;
    readonly Action<Index1D, ArrayView<float>, ArrayView<double>, int> sum;

    public GpuSearchKernels(GpuDevice device)
    {
        this.device = device;
        var a = device.Accelerator;
        gemm = GemmKernel.Load(a);
        select = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<int>,
            SelectParams>(SearchSelection.Select);
        merge = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<int>, MergeParams>(
            SearchSelection.Merge);
        sum = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<double>, int>(SumKernel);
    }

    public DeviceArray<float> Store(Device device, ReadOnlySpan<float> rows, int dimension) => device.Upload(rows);

    /// <summary>Threads of <see cref="Sum"/>: enough to fill a GPU with coalesced reads.</summary>
    const int SumThreads = 1 << 16;

    public double Sum(IReadOnlyList<EncodingShard> shards)
    {
        _ = device.Accelerator;
        double total = 0;
        foreach (var shard in shards)
        {
            var view = ((GpuArray<float>)shard.Encodings).View;
            int threads = (int)Math.Clamp(view.Length, 1, SumThreads);
            using var sums = new GpuArray<double>(device, threads);
            sum(threads, view, sums.View, threads);
            total += sums.ToArray().Sum();
        }
        return total;
    }

    /// <summary>Thread t adds elements t, t + threads, ... (consecutive threads read consecutive floats).</summary>
    static void SumKernel(Index1D index, ArrayView<float> values, ArrayView<double> sums, int threads)
    {
        double total = 0;
        for (long e = index; e < values.Length; e += threads) total += values[e];
        sums[index] = total;
    }

    /// <summary>A list per query and buffer pair: k scores and k rows per list.</summary>
    sealed class Lists(GpuDevice device, long entries) : IDisposable
    {
        public readonly GpuArray<float> Scores = new(device, checked((int)entries));
        public readonly GpuArray<int> Rows = new(device, checked((int)entries));

        public void Dispose()
        {
            Scores.Dispose();
            Rows.Dispose();
        }
    }

    public SearchHit[][] Search(IReadOnlyList<EncodingShard> shards, int dimension, ReadOnlySpan<float> queries, int queryCount, int k,
        ReadOnlySpan<int> exclude)
    {
        _ = device.Accelerator; // binds the accelerator to this thread before anything is queued
        int tile = Math.Min(queryCount, MaxQueryTile);
        int chunkRows = Math.Min(shards.Max(s => s.Rows), Math.Max(1, ScoreElements / tile));
        int chunks = shards.Sum(s => (s.Rows + chunkRows - 1) / chunkRows);
        // Each list scans at least 4k rows, so that most of its rows are rejected by the threshold test.
        int lists = Math.Clamp(chunkRows / Math.Max(32, 4 * k), 1, MaxLists);

        using var q = new GpuArray<float>(device, tile * dimension);
        using var skip = new GpuArray<int>(device, tile);
        using var scores = new GpuArray<float>(device, tile * chunkRows);
        // Ping-pong buffers of the merge rounds, large enough for both folds (see Fold).
        using var wide = new Lists(device, (long)tile * Math.Max(lists, Rounded(chunks, Fan)) * k);
        using var narrow = new Lists(device, (long)tile * Math.Max(Rounded(lists, Fan), Rounded(chunks, Fan * Fan)) * k);
        using var perChunk = new Lists(device, (long)tile * chunks * k);
        using var best = new Lists(device, (long)tile * k);
        var hitScores = new float[tile * k];
        var hitRows = new int[tile * k];
        var results = new SearchHit[queryCount][];

        for (int firstQuery = 0; firstQuery < queryCount; firstQuery += tile)
        {
            int count = Math.Min(tile, queryCount - firstQuery);
            q.CopyFrom(queries.Slice(firstQuery * dimension, count * dimension));
            skip.CopyFrom(exclude.Slice(firstQuery, count));
            int chunk = 0;
            foreach (var shard in shards)
                for (int start = 0; start < shard.Rows; start += chunkRows, chunk++)
                {
                    int rows = Math.Min(chunkRows, shard.Rows - start);
                    var g = new GemmParams(count, rows, dimension, 1f, 0f, transA: false, transB: true, dimension, dimension, rows);
                    var stored = ((GpuArray<float>)shard.Encodings).View.SubView((long)start * dimension, (long)rows * dimension);
                    gemm(GemmKernel.Config(g), q.View, stored, scores.View, g);
                    var groups = ((GpuArray<int>)shard.Groups).View.SubView(start, rows);
                    select(count * lists, scores.View, groups, skip.View, wide.Scores.View, wide.Rows.View,
                        new SelectParams(rows, lists, k, shard.FirstRow + start));
                    Fold(count, k, lists, wide, narrow, wide, perChunk, chunks, chunk);
                }
            Fold(count, k, chunks, perChunk, wide, narrow, best, 1, 0);

            best.Scores.CopyTo(hitScores.AsSpan(0, count * k));
            best.Rows.CopyTo(hitRows.AsSpan(0, count * k));
            for (int i = 0; i < count; i++)
                results[firstQuery + i] = Hits(hitScores, hitRows, i * k, k);
        }
        return results;
    }

    static int Rounded(int n, int divisor) => (n + divisor - 1) / divisor;

    /// <summary>Merges <paramref name="inLists"/> lists per query, held densely in <paramref name="input"/>, into one list
    /// per query, written as list <paramref name="offset"/> of <paramref name="target"/> (<paramref name="stride"/> lists
    /// per query). Rounds of <see cref="Fan"/>-to-one merges alternate input to <paramref name="first"/> (which must hold
    /// inLists / Fan lists per query, rounded up), then between <paramref name="second"/> (inLists / Fan²) and
    /// <paramref name="first"/>; <paramref name="second"/> may be <paramref name="input"/> itself.</summary>
    void Fold(int queries, int k, int inLists, Lists input, Lists first, Lists second, Lists target, int stride, int offset)
    {
        var (from, to, spare) = (input, first, second);
        for (int lists = inLists; ; lists = Rounded(lists, Fan))
        {
            int outLists = Rounded(lists, Fan);
            var destination = outLists == 1 ? target : to;
            var p = outLists == 1 ? new MergeParams(lists, 1, stride, offset, k) : new MergeParams(lists, outLists, outLists, 0, k);
            merge(queries * outLists, from.Scores.View, from.Rows.View, destination.Scores.View, destination.Rows.View, p);
            if (outLists == 1) return;
            (from, to, spare) = (to, spare, to);
        }
    }

    /// <summary>The filled slots of one list (the unused tail has row -1).</summary>
    static SearchHit[] Hits(float[] scores, int[] rows, int first, int k)
    {
        int n = 0;
        while (n < k && rows[first + n] >= 0) n++;
        var hits = new SearchHit[n];
        for (int j = 0; j < n; j++) hits[j] = new SearchHit(rows[first + j], scores[first + j]);
        return hits;
    }
}
