using System.Runtime.InteropServices;

namespace Hybrid.Core.Gpu.Cpu;

/// <summary>One tile of queries as unsigned bytes for <see cref="SearchDotInt8"/>, and the rigorous bounds that turn a
/// raw integer sum into an interval holding the float32 score the exact scan would compute.
/// <para>Query q is <c>s_q Q + d_q</c> with Q integers in [-127, 127], stored as Q + 127 (so the raw sum against row E is
/// Q.E + 127 sum(E)); row e is <c>s_e E + d_e</c> (<see cref="QuantisedRows"/>). Exactly,
/// <c>q.e = s_q s_e (Q.E) + s_q Q.d_e + d_q.e</c>, and by Cauchy-Schwarz the last two terms are at most
/// <c>|s_q Q| |d_e| + |d_q| |e|</c>. The float32 score of the exact scan differs from q.e by at most
/// <c>gamma(n) sum |q_i e_i| &lt;= gamma(n) |q| |e|</c> (Higham's bound for any order of n additions of fused products,
/// n the row stride plus the 16 lanes of the final sum, gamma(n) = n u / (1 - n u), u = 2^-24), plus n times the
/// smallest subnormal for products that underflow. The float64 arithmetic of the bound itself errs by far less than the
/// relative margin 1e-6 added to it, and the interval is widened outwards to float32.</para></summary>
internal sealed unsafe class QuantisedQueries : NativeOwner
{
    const int Levels = 127;
    const int Offset = 127;

    readonly double[] scales, norms, hatNorms, errorNorms;
    readonly double gamma, tiny;

    /// <summary>Quantises the queries of a tile (their first <paramref name="dimension"/> floats) into
    /// <paramref name="paddedCount"/> rows of <paramref name="stride"/> bytes; padding queries are zero.</summary>
    public QuantisedQueries(in SearchScan.TileQueries queries, int paddedCount, int dimension, int stride)
        : base(NativeMemory.AlignedAlloc((nuint)paddedCount * (nuint)stride, 64))
    {
        Stride = stride;
        scales = new double[paddedCount];
        norms = new double[paddedCount];
        hatNorms = new double[paddedCount];
        errorNorms = new double[paddedCount];
        new Span<byte>(Memory, paddedCount * stride).Fill(Offset);
        for (int i = 0; i < queries.Count; i++) Quantise(new ReadOnlySpan<float>(queries.Row(i), dimension), i);
        int n = queries.Stride + SearchStorage.Lane;
        double nu = n * Math.ScaleB(1.0, -24);
        gamma = nu / (1 - nu);
        tiny = n * (double)float.Epsilon;
    }

    /// <summary>Bytes from one query to the next.</summary>
    public int Stride { get; }

    /// <summary>The bytes of query i.</summary>
    public byte* Row(int i) => (byte*)Memory + (long)i * Stride;

    void Quantise(ReadOnlySpan<float> query, int i)
    {
        float max = 0;
        foreach (float v in query) max = Math.Max(max, Math.Abs(v));
        double scale = max == 0 ? 0 : (double)max / Levels;
        byte* target = Row(i);
        double norm = 0, hat = 0, error = 0;
        for (int j = 0; j < query.Length; j++)
        {
            int level = scale == 0 ? 0 : (int)Math.Clamp(Math.Round(query[j] / scale), -Levels, Levels);
            target[j] = (byte)(level + Offset);
            double e = query[j] - scale * level;
            norm += (double)query[j] * query[j];
            hat += scale * level * (scale * level);
            error += e * e;
        }
        scales[i] = scale;
        norms[i] = Math.Sqrt(norm);
        hatNorms[i] = Math.Sqrt(hat);
        errorNorms[i] = Math.Sqrt(error);
    }

    /// <summary>The interval [lower, upper] that holds the float32 score of query i against row r of
    /// <paramref name="rows"/>, from their raw integer sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public (float Lower, float Upper) Bounds(int i, int raw, QuantisedRows rows, int r) => Widen(Estimate(i, raw, rows, r));

    /// <summary>The middle of <see cref="Bounds"/> and its half-width in float64: the score lies within
    /// <c>Approx ± Error</c>, so a row whose <c>Approx + Error</c> is below a float32 threshold scores below it, and the
    /// conversion to float32 (<see cref="Widen"/>) is needed only for the rows kept.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public (double Approx, double Error) Estimate(int i, int raw, QuantisedRows rows, int r)
    {
        double approx = scales[i] * rows.Scales[r] * (raw - (long)Offset * rows.Sums[r]);
        double error = hatNorms[i] * rows.Errors[r] + (errorNorms[i] + gamma * norms[i]) * rows.Norms[r];
        return (approx, error * (1 + 1e-6) + tiny + Math.Abs(approx) * 1e-12);
    }

    /// <summary>A bit mask of the rows r + b, b &lt; <paramref name="count"/> (at most 8), whose <see cref="Estimate"/> for
    /// query i from the raw sum <paramref name="raws"/>[b] reaches <paramref name="threshold"/>: Approx + Error computed
    /// in eight float64 lanes by the very operations, in the same order, as <see cref="Estimate"/>, so a row outside the
    /// mask is one that <see cref="Estimate"/> puts below the threshold. Reads eight raw sums and eight entries of each
    /// per-row array (<see cref="QuantisedRows.Padding"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public uint Reaching(int i, int* raws, QuantisedRows rows, int r, int count, float threshold)
    {
        var raw = Avx512F.ConvertToVector512Double(Vector256.Load(raws));
        var sums = Avx512F.ConvertToVector512Double(Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(rows.Sums), (nuint)r));
        var approx = Vector512.Create(scales[i]) * Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(rows.Scales), (nuint)r)
            * (raw - Vector512.Create((double)Offset) * sums);
        var error = Vector512.Create(hatNorms[i]) * Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(rows.Errors), (nuint)r)
            + Vector512.Create(errorNorms[i] + gamma * norms[i])
            * Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(rows.Norms), (nuint)r);
        error = error * Vector512.Create(1 + 1e-6) + Vector512.Create(tiny) + Vector512.Abs(approx) * Vector512.Create(1e-12);
        uint reaching = (uint)Vector512.GreaterThanOrEqual(approx + error, Vector512.Create((double)threshold)).ExtractMostSignificantBits();
        return reaching & ((1u << count) - 1);
    }

    /// <summary>An <see cref="Estimate"/> as a float32 interval, widened outwards.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float Lower, float Upper) Widen((double Approx, double Error) estimate) =>
        (MathF.BitDecrement((float)(estimate.Approx - estimate.Error)),
            MathF.BitIncrement((float)(estimate.Approx + estimate.Error)));
}
