using System.Runtime.InteropServices;

namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The Cpu backend's exact search: every stored row is scored by the <see cref="SearchDot"/> kernels and each
/// score goes straight to the per-query bounded lists (<see cref="SearchTopK"/>) while it is in a register or in L1, so the
/// queries x rows score matrix never exists. Core w scans the w-th contiguous piece of every shard (one stream per core,
/// which the hardware prefetchers follow) into its own lists, merged in core order at the end of a query tile; the best k
/// under the total order of <see cref="SearchHit.Precedes"/> are unique, so the split does not change the result.
/// Up to <see cref="StreamQueries"/> queries stream the rows once, four at a time, each query against the four rows while
/// they sit in L1/L2 (memory-bound: the rows are read at the speed of a plain streaming read). More queries are a
/// GEMM-shaped scan without packing: blocks of <see cref="BlockRows"/> rows, slices of <see cref="SearchDot.Depth"/>
/// floats, 4 x 6 register tiles (compute-bound). That is the whole search where <see cref="SearchPrefilter"/> does not
/// apply (no AVX-512BW); where it does, an integer pass over a quarter of the bytes decides which few rows these kernels
/// score, with the same hits and scores.</summary>
internal sealed unsafe class SearchScan : ISearchKernels
{
    /// <summary>The search of the Cpu device: the integer first pass of <see cref="SearchPrefilter"/> where it applies.</summary>
    public static readonly SearchScan Instance = new(prefilter: true);

    /// <summary>Every row scored in float32: what <see cref="Instance"/> must equal, and its path where the integer pass
    /// does not apply.</summary>
    public static readonly SearchScan FullScan = new(prefilter: false);

    readonly bool prefilter;

    /// <summary>Query counts up to this stream the rows; above it the tiled scan reuses each slice of rows from L1 for
    /// four queries at a time.</summary>
    internal const int StreamQueries = 4;

    /// <summary>Rows per block of the tiled scan: their 16-lane partials for a full query tile (128 x 48 x 64 B = 384 KB),
    /// the rows' current slice (96 KB) and the queries' (256 KB) share a core's L2.</summary>
    internal const int BlockRows = 8 * SearchDot.TileRows;

    /// <summary>Queries scored together; more are searched in tiles of this many, each reading the rows again.</summary>
    const int MaxQueryTile = 128;

    /// <summary>Entries of each core's lists (8 bytes each); large k gets a smaller query tile.</summary>
    const int MaxListEntries = 1 << 20;

    SearchScan(bool prefilter) => this.prefilter = prefilter;

    public DeviceArray<float> Store(Device device, ReadOnlySpan<float> rows, int dimension)
    {
        var storage = new SearchStorage(device, rows.Length / dimension, dimension);
        storage.CopyFrom(rows);
        if (prefilter && SearchPrefilter.Applies(dimension)) storage.Quantise();
        return storage;
    }

    public double Sum(IReadOnlyList<EncodingShard> shards)
    {
        int workers = Environment.ProcessorCount;
        var sums = new double[workers];
        Parallel.For(0, workers, w =>
        {
            foreach (var shard in shards)
            {
                var (first, rows) = Piece(shard.Rows, w, workers, 1);
                var storage = SearchStorage.Of(shard.Encodings);
                sums[w] += SearchDot.Sum(storage.Pointer + (long)first * storage.Stride, (long)rows * storage.Stride);
            }
        });
        return sums.Sum();
    }

    public SearchHit[][] Search(IReadOnlyList<EncodingShard> shards, int dimension, ReadOnlySpan<float> queries, int queryCount, int k,
        ReadOnlySpan<int> exclude)
    {
        int stride = SearchStorage.StrideOf(dimension);
        int tile = Math.Clamp(MaxListEntries / k, 1, Math.Min(MaxQueryTile, queryCount));
        // Whole tiles of 4 queries: the padding queries are zero and their scores are never offered.
        int paddedTile = (tile + SearchDot.TileQueries - 1) / SearchDot.TileQueries * SearchDot.TileQueries;
        int workers = Environment.ProcessorCount;
        var lists = new SearchTopK[workers];
        int[] excluded = exclude.ToArray();
        var results = new SearchHit[queryCount][];
        var q = (float*)NativeMemory.AlignedAlloc((nuint)paddedTile * (nuint)stride * sizeof(float), 64);
        try
        {
            for (int firstQuery = 0; firstQuery < queryCount; firstQuery += tile)
            {
                int count = Math.Min(tile, queryCount - firstQuery);
                new Span<float>(q, paddedTile * stride).Clear();
                for (int i = 0; i < count; i++)
                    queries.Slice((firstQuery + i) * dimension, dimension).CopyTo(new Span<float>(q + (long)i * stride, dimension));
                var tileQueries = new TileQueries((nint)q, count, stride, excluded, firstQuery);
                for (int w = 0; w < workers; w++) lists[w] ??= new SearchTopK(tile, k);
                if (prefilter && SearchPrefilter.Applies(dimension))
                    SearchPrefilter.Search(shards, tileQueries, dimension, k, lists);
                else Parallel.For(0, workers, w =>
                {
                    var top = lists[w];
                    top.Clear();
                    foreach (var shard in shards)
                    {
                        var (first, rows) = Piece(shard.Rows, w, workers, count <= StreamQueries ? 4 : BlockRows);
                        if (rows == 0) continue;
                        if (count <= StreamQueries) Stream(top, tileQueries, shard, first, rows);
                        else Tiled(top, tileQueries, shard, first, rows);
                    }
                });
                for (int i = 0; i < count; i++)
                {
                    for (int w = 1; w < workers; w++) lists[w].MergeInto(i, lists[0], i);
                    results[firstQuery + i] = lists[0].Hits(i);
                }
            }
        }
        finally
        {
            NativeMemory.AlignedFree(q);
        }
        return results;
    }

    /// <summary>One tile of queries, padded to <see cref="SearchStorage"/> layout, with what selection needs.</summary>
    internal readonly record struct TileQueries(nint Data, int Count, int Stride, int[] Exclude, int First)
    {
        public float* Row(int i) => (float*)Data + (long)i * Stride;
        public int Skip(int i) => Exclude[First + i];
    }

    /// <summary>Piece <paramref name="w"/> of <paramref name="workers"/> contiguous pieces of [0, rows), edges on multiples
    /// of <paramref name="grain"/>.</summary>
    static (int First, int Rows) Piece(int rows, int w, int workers, int grain)
    {
        int Edge(int p) => p == workers ? rows : Math.Min(rows, (int)((long)rows * p / workers) / grain * grain);
        return (Edge(w), Edge(w + 1) - Edge(w));
    }

    /// <summary>Offers a score when it can enter the list and its row is not in the query's excluded group. The threshold
    /// test comes first: most scores fail it and cost one comparison.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Consider(SearchTopK top, int list, float score, int skip, int group, int row)
    {
        if (score < top.Threshold(list)) return;
        if (skip != EncodingIndex.NoGroup && group == skip) return;
        top.Offer(list, score, row);
    }

    static void Stream(SearchTopK top, in TileQueries q, EncodingShard shard, int first, int rows)
    {
        var storage = SearchStorage.Of(shard.Encodings);
        int[] groups = HostArray<int>.Of(shard.Groups);
        int stride = storage.Stride, end = first + rows;
        float* scores = stackalloc float[4];
        int r = first;
        for (; r + 4 <= end; r += 4)
        {
            float* block = storage.Pointer + (long)r * stride;
            for (int i = 0; i < q.Count; i++)
            {
                SearchDot.Four(q.Row(i), block, stride, scores);
                int skip = q.Skip(i);
                for (int j = 0; j < 4; j++) Consider(top, i, scores[j], skip, groups[r + j], shard.FirstRow + r + j);
            }
        }
        for (; r < end; r++)
            for (int i = 0; i < q.Count; i++)
                Consider(top, i, SearchDot.One(q.Row(i), storage.Pointer + (long)r * stride, stride), q.Skip(i), groups[r],
                    shard.FirstRow + r);
    }

    /// <summary>Per-thread 16-lane partials of the tiled scan (64-byte aligned, freed with the thread).</summary>
    sealed class Partials
    {
        public readonly float* Data = (float*)NativeMemory.AlignedAlloc(
            (nuint)MaxQueryTile * BlockRows * SearchStorage.Lane * sizeof(float), 64);

        ~Partials() => NativeMemory.AlignedFree(Data);
    }

    [ThreadStatic] static Partials? partials;

    static void Tiled(SearchTopK top, in TileQueries q, EncodingShard shard, int first, int rows)
    {
        var storage = SearchStorage.Of(shard.Encodings);
        int[] groups = HostArray<int>.Of(shard.Groups);
        int stride = storage.Stride;
        int paddedCount = (q.Count + SearchDot.TileQueries - 1) / SearchDot.TileQueries * SearchDot.TileQueries;
        float* part = (partials ??= new Partials()).Data;
        for (int start = first; start < first + rows; start += BlockRows)
        {
            int count = Math.Min(BlockRows, first + rows - start);
            float* block = storage.Pointer + (long)start * stride;
            new Span<float>(part, paddedCount * BlockRows * SearchStorage.Lane).Clear();
            for (int k0 = 0; k0 < stride; k0 += SearchDot.Depth)
            {
                int depth = Math.Min(SearchDot.Depth, stride - k0);
                // The 6 rows' slice stays in L1 while every query tile passes over it.
                for (int r = 0; r < count; r += SearchDot.TileRows)
                    for (int i = 0; i < paddedCount; i += SearchDot.TileQueries)
                        SearchDot.Tile(q.Row(i) + k0, stride, RowOf(block, r, count, stride) + k0,
                            RowOf(block, r + 1, count, stride) + k0, RowOf(block, r + 2, count, stride) + k0,
                            RowOf(block, r + 3, count, stride) + k0, RowOf(block, r + 4, count, stride) + k0,
                            RowOf(block, r + 5, count, stride) + k0, depth, part + PartialOffset(i, r));
            }
            for (int i = 0; i < q.Count; i++)
            {
                int skip = q.Skip(i);
                for (int r = 0; r < count; r++)
                    Consider(top, i, Vector512.Sum(Vector512.LoadAligned(part + PartialOffset(i, r))), skip, groups[start + r],
                        shard.FirstRow + start + r);
            }
        }
    }

    /// <summary>Row r of a block of count rows; past the end, the last row again (a short last tile scores it twice and
    /// ignores the copies).</summary>
    static float* RowOf(float* block, int r, int count, int stride) => block + (long)Math.Min(r, count - 1) * stride;

    /// <summary>Where the partial of query i and block row r lives: tiles of 4 queries x 6 rows, each query-major (see
    /// <see cref="SearchDot.Tile"/>), tiles of one query tile consecutive along the block.</summary>
    static int PartialOffset(int i, int r)
    {
        int queryTile = i / SearchDot.TileQueries, rowTile = r / SearchDot.TileRows;
        int tile = queryTile * (BlockRows / SearchDot.TileRows) + rowTile;
        int inTile = i % SearchDot.TileQueries * SearchDot.TileRows + r % SearchDot.TileRows;
        return (tile * SearchDot.TileQueries * SearchDot.TileRows + inTile) * SearchStorage.Lane;
    }
}
