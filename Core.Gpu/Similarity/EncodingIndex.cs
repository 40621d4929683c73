namespace Hybrid.Core.Gpu;

/// <summary>An exact inner-product index: a matrix of stored encodings (for CKA, one unit vector per layer, the packed
/// normalised centred Gram matrix, so that a dot product is a linear CKA) held once, as float32, in the memory of one
/// <see cref="Device"/>, each row optionally tagged with a group (the model the layer belongs to). A search returns,
/// per query, the k rows of highest inner product, optionally skipping the rows of one group (the query's own model).
/// Every row is scored: the search is exact, not approximate.</summary>
public sealed class EncodingIndex : IDisposable
{
    /// <summary>The group of a row that belongs to none, and the exclusion of a query that excludes nothing. Group ids are
    /// otherwise non-negative.</summary>
    public const int NoGroup = -1;

    /// <summary>Floats per shard (1 GiB): offsets inside a shard fit an int, and large indexes are not one allocation.</summary>
    const int ShardElements = 1 << 28;

    readonly EncodingShard[] shards;
    readonly ISearchKernels kernels;
    /// <summary>The largest Euclidean norm of a stored row, to refuse queries whose scores could overflow float32.</summary>
    readonly double maxNorm;
    bool disposed;

    EncodingIndex(Device device, ISearchKernels kernels, int count, int dimension, EncodingShard[] shards, double maxNorm)
    {
        Device = device;
        Count = count;
        Dimension = dimension;
        this.shards = shards;
        this.maxNorm = maxNorm;
        this.kernels = kernels;
    }

    /// <summary>The device whose memory holds the rows and whose kernels search them.</summary>
    public Device Device { get; }

    /// <summary>Stored rows.</summary>
    public int Count { get; }

    /// <summary>Floats per row (n(n+1)/2 for CKA encodings of n probe inputs).</summary>
    public int Dimension { get; }

    /// <summary>Copies <paramref name="count"/> rows of <paramref name="dimension"/> floats (row-major) to
    /// <paramref name="device"/>. <paramref name="groups"/> holds one group id (&gt;= 0, or <see cref="NoGroup"/>) per row,
    /// or is empty when rows have no groups. Throws <see cref="ArgumentException"/> for mismatched lengths, a non-positive
    /// dimension, negative group ids other than <see cref="NoGroup"/>, or NaN or infinite values.</summary>
    public static EncodingIndex Build(Device device, ReadOnlySpan<float> encodings, int count, int dimension,
        ReadOnlySpan<int> groups = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        return Build(device, encodings, count, dimension, groups, Math.Max(1, ShardElements / Math.Max(1, dimension)));
    }

    /// <summary><see cref="Build(Device, ReadOnlySpan{float}, int, int, ReadOnlySpan{int})"/> with a given shard size
    /// (tests use small ones to cross shard edges on small data) and, where given, other search kernels than the device's
    /// own (tests compare the Cpu search with its full float32 scan).</summary>
    internal static EncodingIndex Build(Device device, ReadOnlySpan<float> encodings, int count, int dimension,
        ReadOnlySpan<int> groups, int rowsPerShard, ISearchKernels? searchKernels = null)
    {
        string shape = $"encoding index ({count} rows x {dimension})";
        Validate.NonNegative(count, "count", shape);
        Validate.Positive(dimension, "dimension", shape);
        if (encodings.Length != (long)count * dimension)
            throw new ArgumentException($"{shape}: encodings has {encodings.Length} floats, expected {count} x {dimension} = {(long)count * dimension}");
        if (!groups.IsEmpty && groups.Length != count)
            throw new ArgumentException($"{shape}: groups has {groups.Length} entries, expected one per row ({count}) or none");
        GroupIds(groups, "groups", shape);
        double maxNorm = 0;
        for (int r = 0; r < count; r++)
            maxNorm = Math.Max(maxNorm, Norm(encodings.Slice(r * dimension, dimension), "encodings", r, shape));

        var kernels = searchKernels ?? SearchKernels.For(device);
        var shards = new List<EncodingShard>();
        try
        {
            for (int first = 0; first < count; first += rowsPerShard)
            {
                int rows = Math.Min(rowsPerShard, count - first);
                var data = kernels.Store(device, encodings.Slice(first * dimension, rows * dimension), dimension);
                var ids = device.Allocate<int>(rows);
                shards.Add(new EncodingShard(first, rows, data, ids));
                if (groups.IsEmpty) ids.Fill(NoGroup);
                else ids.CopyFrom(groups.Slice(first, rows));
            }
        }
        catch
        {
            // Out of device memory part-way: give back what was taken.
            Release(shards);
            throw;
        }
        return new EncodingIndex(device, kernels, count, dimension, [.. shards], maxNorm);
    }

    /// <summary>One index over the rows of <paramref name="parts"/>, in order (row r of part p is row r plus the rows of
    /// the parts before it), which takes over their memory: nothing is copied, and the parts are disposed. An index built
    /// block by block (rows read from a catalog a block at a time) is then searched as one, so that the search prunes
    /// with what the whole index has seen rather than block by block. Throws <see cref="ArgumentException"/> for no
    /// parts, parts on other devices or of other dimensions, or more than int.MaxValue rows in all; and
    /// <see cref="ObjectDisposedException"/> for a disposed part.</summary>
    public static EncodingIndex Join(IReadOnlyList<EncodingIndex> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0) throw new ArgumentException("join: no indexes to join");
        if (parts.Distinct().Count() != parts.Count) throw new ArgumentException("join: an index is named twice");
        var first = parts[0];
        long count = 0;
        foreach (var part in parts)
        {
            ObjectDisposedException.ThrowIf(part.disposed, part);
            if (!ReferenceEquals(part.Device, first.Device) || part.Dimension != first.Dimension || part.kernels != first.kernels)
                throw new ArgumentException($"join: {part} does not match {first}: indexes joined share a device and a dimension");
            count += part.Count;
        }
        if (count > int.MaxValue)
            throw new ArgumentException($"join: {count} rows in all; an index holds at most {int.MaxValue}");
        var shards = new List<EncodingShard>();
        int offset = 0;
        double maxNorm = 0;
        foreach (var part in parts)
        {
            foreach (var shard in part.shards) shards.Add(shard with { FirstRow = offset + shard.FirstRow });
            offset += part.Count;
            maxNorm = Math.Max(maxNorm, part.maxNorm);
            // The shards now belong to the joined index.
            part.disposed = true;
        }
        return new EncodingIndex(first.Device, first.kernels, (int)count, first.Dimension, [.. shards], maxNorm);
    }

    /// <summary>The top <paramref name="k"/> rows for each of <paramref name="queryCount"/> queries (row-major,
    /// <see cref="Dimension"/> floats each): result[q] lists hits by descending score, equal scores by ascending row.
    /// <paramref name="excludeGroups"/> holds, per query, the group whose rows it skips (<see cref="NoGroup"/> to skip
    /// none), or is empty to exclude nothing. A query gets fewer than k hits only when fewer rows remain after its
    /// exclusion. Throws <see cref="ArgumentException"/> for mismatched lengths, k &lt; 1, NaN or infinite query values, or
    /// a query so large that its scores could overflow float32.</summary>
    public SearchHit[][] Search(ReadOnlySpan<float> queries, int queryCount, int k, ReadOnlySpan<int> excludeGroups = default)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        string shape = $"search ({queryCount} queries, k {k}) in an index of {Count} rows x {Dimension}";
        Validate.NonNegative(queryCount, "queryCount", shape);
        Validate.Positive(k, "k", shape);
        if (queries.Length != (long)queryCount * Dimension)
            throw new ArgumentException(
                $"{shape}: queries has {queries.Length} floats, expected {queryCount} x dimension {Dimension} = {(long)queryCount * Dimension}");
        if (!excludeGroups.IsEmpty && excludeGroups.Length != queryCount)
            throw new ArgumentException($"{shape}: excludeGroups has {excludeGroups.Length} entries, expected one per query ({queryCount}) or none");
        GroupIds(excludeGroups, "excludeGroups", shape);
        for (int q = 0; q < queryCount; q++)
        {
            double norm = Norm(queries.Slice(q * Dimension, Dimension), "queries", q, shape);
            // |q . e| <= |q| |e| bounds every partial sum of a dot product too, whatever order a backend adds in.
            if (norm * maxNorm > float.MaxValue / 2)
                throw new ArgumentException($"{shape}: query {q} has norm {norm:G4} and the largest stored row {maxNorm:G4}: scores could overflow float32");
        }

        var results = new SearchHit[queryCount][];
        if (Count == 0)
        {
            for (int q = 0; q < queryCount; q++) results[q] = [];
            return results;
        }
        if (queryCount == 0) return results;
        int[] exclude = new int[queryCount];
        if (excludeGroups.IsEmpty) Array.Fill(exclude, NoGroup);
        else excludeGroups.CopyTo(exclude);
        return kernels.Search(shards, Dimension, queries, queryCount, Math.Min(k, Count), exclude);
    }

    /// <summary>Reads every stored value once, where and as the search reads them, and returns their sum (in float32
    /// lanes on the Cpu device, float64 elsewhere): the time of this streaming read of the index's bytes is the memory
    /// bandwidth bound of a one-query search, which benchmarks print beside it.</summary>
    public double StreamingRead()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return kernels.Sum(shards);
    }

    static void GroupIds(ReadOnlySpan<int> ids, string name, string shape)
    {
        for (int i = 0; i < ids.Length; i++)
            if (ids[i] < NoGroup)
                throw new ArgumentException($"{shape}: {name}[{i}] is {ids[i]}; group ids are non-negative, or {NoGroup} for none");
    }

    /// <summary>The Euclidean norm of one row, accumulated in float64; throws naming the first NaN or infinite element.</summary>
    static double Norm(ReadOnlySpan<float> row, string name, int index, string shape)
    {
        var sums = Vector256<double>.Zero;
        int i = 0;
        for (; i <= row.Length - 8; i += 8)
        {
            var (low, high) = Vector256.Widen(Vector256.Create(row.Slice(i, 8)));
            sums += low * low + high * high;
        }
        double sum = Vector256.Sum(sums);
        for (; i < row.Length; i++) sum += (double)row[i] * row[i];
        // A sum of squares of floats cannot overflow a double, so a non-finite sum means a non-finite element.
        if (!double.IsFinite(sum))
        {
            int bad = 0;
            while (float.IsFinite(row[bad])) bad++;
            string value = float.IsNaN(row[bad]) ? "NaN" : row[bad] > 0 ? "+infinity" : "-infinity";
            throw new ArgumentException($"{shape}: {name} row {index}, element {bad} is {value}; values must be finite");
        }
        return Math.Sqrt(sum);
    }

    static void Release(IEnumerable<EncodingShard> shards)
    {
        foreach (var shard in shards)
        {
            shard.Encodings.Dispose();
            shard.Groups.Dispose();
        }
    }

    /// <summary>Frees the rows' device memory.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        Release(shards);
    }

    public override string ToString() => $"encoding index ({Count} rows x {Dimension}) on {Device.Name}";
}
