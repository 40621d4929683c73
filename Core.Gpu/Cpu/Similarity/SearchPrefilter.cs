namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The exact search with an integer first pass, for one tile of queries. The cores take pieces of the shards'
/// <see cref="QuantisedRows"/> one at a time (a core slowed by other work takes fewer) and scan them with <see cref="SearchDotInt8"/> (a quarter of the bytes, four times the
/// multiply-adds per instruction) and turns each raw sum into an interval that holds the float32 score the full scan
/// would compute (<see cref="QuantisedQueries.Bounds"/>). Per query it keeps the k best lower bounds and, as candidates,
/// every row whose upper bound reaches the k-th best lower bound seen so far. Once every core is done, the k-th best
/// lower bound over all rows is a score that k rows reach; a row whose upper bound is below it is beaten by those k rows
/// and cannot be a hit. The remaining candidates are scored by <see cref="SearchDot.One"/>, the very additions of the full
/// scan, so rows and scores are identical to it; they go to the same per-core <see cref="SearchTopK"/> lists. A query's
/// candidates are rescored by descending upper bound, and the rescoring stops at the first whose upper bound is below the
/// k-th best exact score found so far: exact scores sit near the middle of their intervals, far above the lower bounds that
/// picked the candidates, so most candidates are never read in float32. The cores take the queries one at a time for
/// this, each gathering and sorting the candidates of its query itself, once each core has grouped its own by query.</summary>
internal sealed unsafe class SearchPrefilter
{
    /// <summary>The largest dimension whose raw sums fit an int32: at most 254 x 63 per element.</summary>
    public const int MaxDimension = int.MaxValue / (254 * QuantisedRows.Levels);

    /// <summary>Whether the integer pass runs here: it needs AVX-512BW, and dimensions whose sums cannot overflow.</summary>
    public static bool Applies(int dimension) => Avx512BW.IsSupported && dimension <= MaxDimension;

    /// <summary>Row <see cref="Row"/> of shard <see cref="Shard"/>, a candidate of query <see cref="Query"/>, with the upper
    /// bound of its score.</summary>
    readonly record struct Candidate(int Shard, int Row, int Query, float Upper);

    /// <summary>One core's candidates in the order it found them, then (<see cref="Bucket"/>) those that pass grouped by
    /// query: two passes in memory order, no list or array per query.</summary>
    sealed class Candidates(int queries)
    {
        Candidate[] items = new Candidate[1024];
        int count;
        Candidate[] passing = [];
        readonly int[] starts = new int[queries + 1];

        public void Add(int query, int shard, int row, float upper)
        {
            if (count == items.Length) Array.Resize(ref items, count * 2);
            items[count++] = new Candidate(shard, row, query, upper);
        }

        /// <summary>Keeps the candidates whose upper bound reaches their query's threshold, grouped by query.</summary>
        public void Bucket(float[] thresholds)
        {
            foreach (var c in items.AsSpan(0, count))
                if (c.Upper >= thresholds[c.Query]) starts[c.Query + 1]++;
            for (int i = 1; i < starts.Length; i++) starts[i] += starts[i - 1];
            passing = new Candidate[starts[^1]];
            var next = starts[..^1];
            foreach (var c in items.AsSpan(0, count))
                if (c.Upper >= thresholds[c.Query]) passing[next[c.Query]++] = c;
        }

        /// <summary>Query i's candidates kept by <see cref="Bucket"/>.</summary>
        public ReadOnlySpan<Candidate> Of(int i) => passing.AsSpan(starts[i], starts[i + 1] - starts[i]);
    }

    /// <summary>A query's passing candidates and their negated upper bounds (the sort keys), per core, reused across the
    /// queries it rescores.</summary>
    sealed class Scratch
    {
        public Candidate[] Items = new Candidate[256];
        public float[] Keys = new float[256];
    }

    /// <summary>Pieces of rows handed to the cores one at a time: about this many per core, so that a core slowed by other
    /// work takes fewer of them instead of holding the other back.</summary>
    const int PiecesPerCore = 16;

    /// <summary>Rows per piece are a multiple of this: whole groups of the streaming (4) and tiled (5) kernels.</summary>
    const int PieceGrain = 20;

    readonly IReadOnlyList<EncodingShard> shards;
    readonly SearchScan.TileQueries queries;
    readonly QuantisedQueries quantised;
    readonly SearchTopK[] lowers;
    readonly Candidates[] candidates;
    readonly (int Shard, int First, int Rows)[] pieces;
    readonly int workers;
    int nextPiece = -1, nextQuery = -1;

    SearchPrefilter(IReadOnlyList<EncodingShard> shards, in SearchScan.TileQueries queries, QuantisedQueries quantised,
        int k, int workers)
    {
        this.shards = shards;
        this.queries = queries;
        this.quantised = quantised;
        this.workers = workers;
        lowers = new SearchTopK[workers];
        candidates = new Candidates[workers];
        for (int w = 0; w < workers; w++)
        {
            lowers[w] = new SearchTopK(queries.Count, k);
            candidates[w] = new Candidates(queries.Count);
        }
        pieces = Pieces(shards, workers);
    }

    /// <summary>Every shard cut into pieces of whole <see cref="PieceGrain"/> rows, about <see cref="PiecesPerCore"/> per
    /// core over all shards.</summary>
    static (int Shard, int First, int Rows)[] Pieces(IReadOnlyList<EncodingShard> shards, int workers)
    {
        long total = shards.Sum(s => (long)s.Rows);
        long size = Math.Max(PieceGrain, (total / (workers * PiecesPerCore) + PieceGrain - 1) / PieceGrain * PieceGrain);
        var pieces = new List<(int, int, int)>();
        for (int s = 0; s < shards.Count; s++)
            for (int first = 0; first < shards[s].Rows; first += (int)size)
                pieces.Add((s, first, (int)Math.Min(size, shards[s].Rows - first)));
        return [.. pieces];
    }

    /// <summary>Leaves the best k rows of each query of the tile, exactly as the full scan would, in the list of the core
    /// that rescored the query; the other cores' lists hold nothing for it (the caller merges the lists).</summary>
    public static void Search(IReadOnlyList<EncodingShard> shards, in SearchScan.TileQueries queries, int dimension, int k,
        SearchTopK[] lists)
    {
        int paddedCount = (queries.Count + SearchDotInt8.TileQueries - 1) / SearchDotInt8.TileQueries * SearchDotInt8.TileQueries;
        using var quantised = new QuantisedQueries(queries, paddedCount, dimension, QuantisedRows.StrideOf(dimension));
        var search = new SearchPrefilter(shards, queries, quantised, k, lists.Length);
        Parallel.For(0, search.workers, search.Scan);
        var thresholds = new float[queries.Count];
        for (int i = 0; i < queries.Count; i++)
        {
            for (int w = 1; w < search.workers; w++) search.lowers[w].MergeInto(i, search.lowers[0], i);
            thresholds[i] = search.lowers[0].Threshold(i);
        }
        Parallel.For(0, search.workers, w => search.candidates[w].Bucket(thresholds));
        Parallel.For(0, search.workers, w =>
        {
            lists[w].Clear();
            var scratch = new Scratch();
            // Each query is rescored whole by one core, queries taken one at a time; the caller's merge of the per-core
            // lists then keeps its hits.
            for (int i; (i = Interlocked.Increment(ref search.nextQuery)) < search.queries.Count;)
                search.Rescore(i, search.Passing(i, scratch), lists[w]);
        });
    }

    /// <summary>Query i's candidates, from every core, whose upper bound reaches its threshold, by descending upper bound.</summary>
    ReadOnlySpan<Candidate> Passing(int i, Scratch scratch)
    {
        int n = 0;
        foreach (var core in candidates) n += core.Of(i).Length;
        if (n > scratch.Items.Length)
        {
            scratch.Items = new Candidate[n];
            scratch.Keys = new float[n];
        }
        n = 0;
        foreach (var core in candidates)
            foreach (var c in core.Of(i))
            {
                scratch.Items[n] = c;
                scratch.Keys[n++] = -c.Upper;
            }
        scratch.Keys.AsSpan(0, n).Sort(scratch.Items.AsSpan(0, n));
        return scratch.Items.AsSpan(0, n);
    }

    void Scan(int w)
    {
        lowers[w].Clear();
        for (int p; (p = Interlocked.Increment(ref nextPiece)) < pieces.Length;)
        {
            var (s, first, rows) = pieces[p];
            if (queries.Count <= SearchScan.StreamQueries) Stream(w, s, first, rows);
            else Tiled(w, s, first, rows);
        }
    }

    /// <summary>Keeps row r of shard s as a candidate of query i unless it is excluded or its upper bound is below the k-th
    /// best lower bound this core has seen. Most rows fail that test, in float64, before any conversion to float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Consider(int w, int i, int raw, int s, QuantisedRows rows, int[] groups, int r)
    {
        var estimate = quantised.Estimate(i, raw, rows, r);
        var top = lowers[w];
        if (estimate.Approx + estimate.Error < top.Threshold(i)) return;
        int skip = queries.Skip(i);
        if (skip != EncodingIndex.NoGroup && groups[r] == skip) return;
        var (lower, upper) = QuantisedQueries.Widen(estimate);
        top.Offer(i, lower, shards[s].FirstRow + r);
        candidates[w].Add(i, s, r, upper);
    }

    /// <summary>Considers, for query i, the rows r + b (b &lt; count) of shard s whose raw sums are raws[b]; the bound test of
    /// <see cref="Consider"/> runs first on all of them at once in float64 vectors (<see cref="QuantisedQueries.Reaching"/>),
    /// and most rows fail it there.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    void Screen(int w, int i, int* raws, int count, int s, QuantisedRows rows, int[] groups, int r)
    {
        uint reaching = quantised.Reaching(i, raws, rows, r, count, lowers[w].Threshold(i));
        for (; reaching != 0; reaching &= reaching - 1)
        {
            int b = BitOperations.TrailingZeroCount(reaching);
            Consider(w, i, raws[b], s, rows, groups, r + b);
        }
    }

    void Stream(int w, int s, int first, int count)
    {
        var rows = SearchStorage.Of(shards[s].Encodings).Quantised!;
        int[] groups = HostArray<int>.Of(shards[s].Groups);
        int stride = rows.Stride, end = first + count;
        // Room for the eight lanes Screen reads.
        int* sums = stackalloc int[8];
        int r = first;
        for (; r + 4 <= end; r += 4)
            for (int i = 0; i < queries.Count; i++)
            {
                SearchDotInt8.Four(quantised.Row(i), rows.Pointer + (long)r * stride, stride, sums);
                Screen(w, i, sums, 4, s, rows, groups, r);
            }
        for (; r < end; r++)
            for (int i = 0; i < queries.Count; i++)
                Consider(w, i, SearchDotInt8.One(quantised.Row(i), rows.Pointer + (long)r * stride, stride), s, rows, groups, r);
    }

    void Tiled(int w, int s, int first, int count)
    {
        var rows = SearchStorage.Of(shards[s].Encodings).Quantised!;
        int[] groups = HostArray<int>.Of(shards[s].Groups);
        int stride = rows.Stride, end = first + count;
        // Room for the two vectors Tile writes, which holds the eight lanes Screen reads from the last query's sums.
        int* sums = stackalloc int[SearchDotInt8.TileSums];
        sbyte* Row(int r) => rows.Pointer + (long)Math.Min(r, end - 1) * stride;
        for (int r = first; r < end; r += SearchDotInt8.TileRows)
        {
            int tileRows = Math.Min(SearchDotInt8.TileRows, end - r);
            // The 5 rows stay in L1 while every tile of 4 queries passes over them; a short last tile repeats the last
            // row and ignores the copies, and padding queries are never offered.
            for (int i = 0; i < queries.Count; i += SearchDotInt8.TileQueries)
            {
                SearchDotInt8.Tile(quantised.Row(i), quantised.Stride, Row(r), Row(r + 1), Row(r + 2), Row(r + 3), Row(r + 4),
                    stride, sums);
                int tileQueries = Math.Min(SearchDotInt8.TileQueries, queries.Count - i);
                for (int a = 0; a < tileQueries; a++)
                    Screen(w, i + a, sums + a * SearchDotInt8.TileRows, tileRows, s, rows, groups, r);
            }
        }
    }

    /// <summary>Scores the candidates of query i, by descending upper bound, in float32 as the full scan does, into
    /// <paramref name="top"/>, until the upper bound of the next is below the k-th best score: it and those after it score
    /// below k rows already found.</summary>
    void Rescore(int i, ReadOnlySpan<Candidate> passing, SearchTopK top)
    {
        foreach (var c in passing)
        {
            if (c.Upper < top.Threshold(i)) break;
            var storage = SearchStorage.Of(shards[c.Shard].Encodings);
            float score = SearchDot.One(queries.Row(i), storage.Pointer + (long)c.Row * storage.Stride, storage.Stride);
            top.Offer(i, score, shards[c.Shard].FirstRow + c.Row);
        }
    }
}
