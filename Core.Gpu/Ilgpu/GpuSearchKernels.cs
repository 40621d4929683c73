using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.RadixSortOperations;
using ILGPU.Runtime;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>The exact search on an ILGPU accelerator. Per tile of queries and per window of consecutive rows (whole
/// shards or pieces of them, as many as the score scratch holds), the scan is the tiled <see cref="GemmKernel"/> (queries x
/// rows, against the stored rows in place, each piece's scores side by side); the top-k selection is ILGPU.Algorithms'
/// radix sort of (key, row) pairs (<see cref="SearchRanking"/>): one sort of the window's scores keyed by (query, score),
/// of which each query's first k are kept, and where there are several windows one sort of all their lists for the final
/// k. Only those k hits per query cross to the host.</summary>
internal sealed class GpuSearchKernels : ISearchKernels
{
    /// <summary>Floats of the score scratch (64 MB): it bounds a window's rows, and the pairs of one sort.</summary>
    const int ScoreElements = 1 << 24;
    const int MaxQueryTile = 256;

    readonly GpuDevice device;
    readonly Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams> gemm;
    readonly Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<ulong>, ArrayView<int>, ScoreKeyParams>
        scoreKeys;
    readonly Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<ulong>, ArrayView<int>, int> listKeys;
    readonly Action<Index1D, ArrayView<ulong>, ArrayView<int>, ArrayView<float>, ArrayView<int>, TakeParams> take;
    readonly RadixSortPairs<ulong, Stride1D.Dense, int, Stride1D.Dense> sort;
    readonly Action<Index1D, ArrayView<float>, ArrayView<double>, int> sum;

    public GpuSearchKernels(GpuDevice device)
    {
        this.device = device;
        var a = device.Accelerator;
        gemm = GemmKernel.Load(a);
        scoreKeys = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<int>, ArrayView<ulong>,
            ArrayView<int>, ScoreKeyParams>(SearchRanking.ScoreKeys);
        listKeys = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<ulong>, ArrayView<int>, int>(
            SearchRanking.ListKeys);
        take = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<ulong>, ArrayView<int>, ArrayView<float>, ArrayView<int>, TakeParams>(
            SearchRanking.Take);
        sort = a.CreateRadixSortPairs<ulong, Stride1D.Dense, int, Stride1D.Dense, AscendingUInt64>();
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
        var a = device.Accelerator; // binds the accelerator to this thread before anything is queued
        int tile = Math.Min(queryCount, MaxQueryTile);
        var windows = Windows(shards, Math.Max(1, ScoreElements / tile));
        int widest = windows.Max(w => w.Rows);
        int pairs = checked(Math.Max(tile * widest, tile * windows.Count * k));

        using var q = new GpuArray<float>(device, tile * dimension);
        using var skip = new GpuArray<int>(device, tile);
        using var scores = new GpuArray<float>(device, tile * widest);
        using var keys = new GpuArray<ulong>(device, pairs);
        using var rows = new GpuArray<int>(device, pairs);
        using var temp = new GpuArray<int>(device,
            (int)a.ComputeRadixSortPairsTempStorageSize<ulong, int, AscendingUInt64>(pairs));
        using var perWindow = new Lists(device, (long)tile * windows.Count * k);
        using var best = new Lists(device, (long)tile * k);
        var hitScores = new float[tile * k];
        var hitRows = new int[tile * k];
        var results = new SearchHit[queryCount][];

        void Sort(int length) => sort(a.DefaultStream, keys.View.SubView(0, length), rows.View.SubView(0, length), temp.View);

        for (int firstQuery = 0; firstQuery < queryCount; firstQuery += tile)
        {
            int count = Math.Min(tile, queryCount - firstQuery);
            q.CopyFrom(queries.Slice(firstQuery * dimension, count * dimension));
            skip.CopyFrom(exclude.Slice(firstQuery, count));
            // With one window its sorted segments are the answer; otherwise each window's best k are sorted once more.
            var single = windows.Count == 1 ? best : null;
            for (int w = 0; w < windows.Count; w++)
            {
                var window = windows[w];
                foreach (var (shard, start, n, offset) in window.Pieces)
                {
                    // Scores of the window's pieces side by side: row offset + r of query i at i * window.Rows.
                    var g = new GemmParams(count, n, dimension, 1f, 0f, transA: false, transB: true, dimension, dimension,
                        window.Rows);
                    var stored = ((GpuArray<float>)shard.Encodings).View.SubView((long)start * dimension, (long)n * dimension);
                    gemm(GemmKernel.Config(g), q.View, stored, scores.View.SubView(offset), g);
                    var groups = ((GpuArray<int>)shard.Groups).View.SubView(start, n);
                    scoreKeys(count * n, scores.View, groups, skip.View, keys.View, rows.View,
                        new ScoreKeyParams(n, window.Rows, offset, shard.FirstRow + start));
                }
                Sort(count * window.Rows);
                var target = single ?? perWindow;
                take(count * k, keys.View, rows.View, target.Scores.View, target.Rows.View,
                    new TakeParams(window.Rows, k, single is null ? windows.Count : 1, single is null ? w : 0));
            }
            if (single is null)
            {
                listKeys(count * windows.Count * k, perWindow.Scores.View, perWindow.Rows.View, keys.View, rows.View,
                    windows.Count * k);
                Sort(count * windows.Count * k);
                take(count * k, keys.View, rows.View, best.Scores.View, best.Rows.View, new TakeParams(windows.Count * k, k, 1, 0));
            }

            best.Scores.CopyTo(hitScores.AsSpan(0, count * k));
            best.Rows.CopyTo(hitRows.AsSpan(0, count * k));
            for (int i = 0; i < count; i++)
                results[firstQuery + i] = Hits(hitScores, hitRows, i * k, k);
        }
        return results;
    }

    /// <summary>Rows [Start, Start + Rows) of a shard, at column Offset of its window's scores.</summary>
    readonly record struct Piece(EncodingShard Shard, int Start, int Rows, int Offset);

    /// <summary>Rows scored and sorted together: consecutive pieces of the shards, at most the scratch's rows in all.</summary>
    sealed record Window(List<Piece> Pieces, int Rows);

    /// <summary>The shards' rows cut into windows of at most <paramref name="capacity"/> rows, in index order, so that an
    /// index of many small shards is one sort per query tile and not one per shard.</summary>
    static List<Window> Windows(IReadOnlyList<EncodingShard> shards, int capacity)
    {
        var windows = new List<Window>();
        var pieces = new List<Piece>();
        int used = 0;
        foreach (var shard in shards)
            for (int start = 0; start < shard.Rows;)
            {
                if (used == capacity)
                {
                    windows.Add(new Window(pieces, used));
                    (pieces, used) = ([], 0);
                }
                int n = Math.Min(capacity - used, shard.Rows - start);
                pieces.Add(new Piece(shard, start, n, used));
                (start, used) = (start + n, used + n);
            }
        if (used > 0) windows.Add(new Window(pieces, used));
        return windows;
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
