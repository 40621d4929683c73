namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Splitting flat work across cores: small jobs stay on the calling thread, where a Parallel.For would cost more
/// than it saves.</summary>
internal static class Ranges
{
    /// <summary>Elements below which an element-wise kernel runs on one thread.</summary>
    public const int SerialElements = 1 << 16;

    /// <summary>Calls <paramref name="body"/>(start, count) over [0, length) in about one piece per core.</summary>
    public static void For(int length, Action<int, int> body)
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

    /// <summary>Runs <paramref name="body"/>(i) for i in [0, count), in parallel when there are several items and
    /// <paramref name="parallel"/> allows it (callers already running on every core pass false).</summary>
    public static void Items(int count, Action<int> body, bool parallel = true)
    {
        if (parallel && count > 1) Parallel.For(0, count, body);
        else
            for (int i = 0; i < count; i++) body(i);
    }

    static int Align(int length, int p, int pieces) =>
        p == pieces ? length : Math.Min(length, (int)((long)length * p / pieces) & ~15);
}
