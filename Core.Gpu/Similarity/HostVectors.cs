namespace Hybrid.Core.Gpu;

/// <summary>The float64 vector loops of the host-side CKA code (HSIC inner products, centring on the Cpu backend),
/// four lanes a step with a scalar tail. Lanes are summed in a fixed order, so results are reproducible.</summary>
internal static class HostVectors
{
    static readonly int W = Vector256<double>.Count;

    /// <summary>Σ a[i] b[i].</summary>
    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        // Two accumulators hide the add latency; the sum is a few ten-thousand terms for n = 100.
        var s0 = Vector256<double>.Zero;
        var s1 = Vector256<double>.Zero;
        int i = 0;
        for (; i <= a.Length - 2 * W; i += 2 * W)
        {
            s0 += Vector256.Create(a.Slice(i, W)) * Vector256.Create(b.Slice(i, W));
            s1 += Vector256.Create(a.Slice(i + W, W)) * Vector256.Create(b.Slice(i + W, W));
        }
        double sum = Vector256.Sum(s0 + s1);
        for (; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary>Σ a[i].</summary>
    public static double Sum(ReadOnlySpan<double> a)
    {
        var s = Vector256<double>.Zero;
        int i = 0;
        for (; i <= a.Length - W; i += W) s += Vector256.Create(a.Slice(i, W));
        double sum = Vector256.Sum(s);
        for (; i < a.Length; i++) sum += a[i];
        return sum;
    }

    /// <summary>destination[i] += source[i].</summary>
    public static void AddTo(Span<double> destination, ReadOnlySpan<double> source)
    {
        int i = 0;
        for (; i <= source.Length - W; i += W)
            (Vector256.Create(destination.Slice(i, W)) + Vector256.Create(source.Slice(i, W))).CopyTo(destination.Slice(i, W));
        for (; i < source.Length; i++) destination[i] += source[i];
    }

    /// <summary>destination[i] = source[i] - shifts[i] - shift; returns Σ destination[i]².</summary>
    public static double SubtractShifted(Span<double> destination, ReadOnlySpan<double> source, ReadOnlySpan<double> shifts, double shift)
    {
        var c = Vector256.Create(shift);
        var squares = Vector256<double>.Zero;
        int i = 0;
        for (; i <= source.Length - W; i += W)
        {
            var v = Vector256.Create(source.Slice(i, W)) - Vector256.Create(shifts.Slice(i, W)) - c;
            v.CopyTo(destination.Slice(i, W));
            squares += v * v;
        }
        double sum = Vector256.Sum(squares);
        for (; i < source.Length; i++)
        {
            double v = source[i] - shifts[i] - shift;
            destination[i] = v;
            sum += v * v;
        }
        return sum;
    }
}
