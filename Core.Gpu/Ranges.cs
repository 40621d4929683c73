namespace Hybrid.Core.Gpu;

/// <summary>The one parallel-for splitter of Hybrid: flat work [0, length) cut into ranges handed to
/// <c>body(start, count)</c>. Small jobs stay on the calling thread, where a Parallel.For would cost more than it saves.
/// Three policies, for three shapes of work: one piece per core (kernels that stream memory), pieces sized by the work
/// of each item (tensor ops whose items are rows or channels), and fixed-size chunks (updates that keep scratch in cache).</summary>
public static class Ranges
{
    /// <summary>Elements below which <see cref="PerCore"/> runs on one thread.</summary>
    public const int SerialElements = 1 << 16;

    /// <summary>Elements of work below which <see cref="ByWork(int, long, Action{int, int})"/> runs on one thread: a second
    /// core costs more to wake than it saves.</summary>
    public const int SerialWork = 32 * 1024;

    // The smallest piece ByWork hands to a core.
    const int Grain = 16 * 1024;

    /// <summary>Calls <paramref name="body"/>(start, count) over [0, length) in about one piece per core (none when
    /// <paramref name="length"/> is 0); piece edges fall on multiples of 16 elements.</summary>
    public static void PerCore(int length, Action<int, int> body)
    {
        int pieces = length < SerialElements ? 1 : Environment.ProcessorCount;
        if (pieces == 1)
        {
            if (length > 0) body(0, length);
            return;
        }
        Parallel.For(0, pieces, p =>
        {
            // Piece boundaries on multiples of 16 floats keep every vector loop aligned to the same 64-byte lines.
            int start = Align(length, p, pieces), end = Align(length, p + 1, pieces);
            if (end > start) body(start, end - start);
        });
    }

    /// <summary>Calls <paramref name="body"/>(start, count) over [0, length), in up to four pieces per core when the range
    /// holds more than <see cref="SerialWork"/> elements (once, with the whole range, otherwise).</summary>
    public static void ByWork(int length, Action<int, int> body) => ByWork(length, 1, body);

    /// <summary>As <see cref="ByWork(int, Action{int, int})"/> over items that each cost <paramref name="itemCost"/>
    /// elements of work (rows, channels), so the split follows the work, not the item count.</summary>
    public static void ByWork(int length, long itemCost, Action<int, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        long work = length * Math.Max(1, itemCost);
        int pieces = (int)Math.Min(Math.Min(length, Environment.ProcessorCount * 4L), work / Grain);
        if (work <= SerialWork || pieces <= 1 || Environment.ProcessorCount == 1)
        {
            body(0, length);
            return;
        }
        Parallel.For(0, pieces, p =>
        {
            int start = (int)((long)length * p / pieces), end = (int)((long)length * (p + 1) / pieces);
            body(start, end - start);
        });
    }

    /// <summary>Calls <paramref name="body"/>(start, count) for consecutive chunks of <paramref name="chunk"/> elements
    /// (the last may be shorter) covering [0, length), in order on the calling thread below
    /// <paramref name="parallelFrom"/> elements and in parallel from there.</summary>
    public static void InChunks(int length, int chunk, int parallelFrom, Action<int, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunk);
        int chunks = (length + chunk - 1) / chunk;
        if (length < parallelFrom)
        {
            for (int c = 0; c < chunks; c++)
                body(c * chunk, Math.Min(chunk, length - c * chunk));
            return;
        }
        Parallel.For(0, chunks, c => body(c * chunk, Math.Min(chunk, length - c * chunk)));
    }

    /// <summary>Runs <paramref name="body"/>(i) for i in [0, count), in parallel when there are several items and
    /// <paramref name="parallel"/> allows it (callers already running on every core pass false).</summary>
    public static void Items(int count, Action<int> body, bool parallel = true)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (parallel && count > 1) Parallel.For(0, count, body);
        else
            for (int i = 0; i < count; i++) body(i);
    }

    static int Align(int length, int p, int pieces) =>
        p == pieces ? length : Math.Min(length, (int)((long)length * p / pieces) & ~15);
}
