using Hybrid.Core.Gpu.Maths;

namespace Hybrid.Core.Gpu;

/// <summary>One layer's activations on a set of probe inputs: a row-major <see cref="Samples"/> x <see cref="Features"/>
/// float32 matrix, one row per probe input (a tensor of shape (n, ...) flattened per row). A view: the data is not
/// copied, so the caller must not change it while a computation reads it.</summary>
public readonly record struct Activations
{
    /// <summary>Wraps <paramref name="data"/> as <paramref name="samples"/> x <paramref name="features"/>; throws when
    /// either count is below 1 or the length is not their product.</summary>
    public Activations(ReadOnlyMemory<float> data, int samples, int features)
    {
        if (samples < 1 || features < 1)
            throw new ArgumentException(
                $"Activations: samples = {samples} and features = {features} must both be at least 1", samples < 1 ? nameof(samples) : nameof(features));
        if ((long)samples * features != data.Length)
            throw new ArgumentException(
                $"Activations: {data.Length} values, but samples x features = {samples} x {features} = {(long)samples * features}", nameof(data));
        Data = data;
        Samples = samples;
        Features = features;
    }

    /// <summary>The values, row-major.</summary>
    public ReadOnlyMemory<float> Data { get; }

    /// <summary>Rows: the probe inputs (n).</summary>
    public int Samples { get; }

    /// <summary>Columns: the flattened activation of one probe input (p).</summary>
    public int Features { get; }

    /// <summary><paramref name="data"/> as <paramref name="samples"/> rows of data.Length / samples features each.</summary>
    public static Activations Of(float[] data, int samples)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (samples < 1)
            throw new ArgumentException($"Activations.Of: samples = {samples}, but at least 1 is required", nameof(samples));
        if (data.Length % samples != 0 || data.Length == 0)
            throw new ArgumentException(
                $"Activations.Of: {data.Length} values do not split into {samples} rows of at least one feature each", nameof(data));
        return new Activations(data, samples, data.Length / samples);
    }

    public override string ToString() => $"Activations({Samples} x {Features})";

    /// <summary>The edge checks shared by every CKA entry point: a constructed (not default) value with at least
    /// <paramref name="minimumSamples"/> rows, and, when <paramref name="samples"/> is given, exactly that many.
    /// Finiteness is checked later, through the Gram diagonal (see <see cref="RequireFiniteDiagonal"/>).</summary>
    internal void Check(string name, string operation, int minimumSamples, int? samples = null)
    {
        if (Samples == 0)
            throw new ArgumentException($"{operation}: {name} is an empty (default) Activations value", name);
        if (samples is int expected && Samples != expected)
            throw new ArgumentException(
                $"{operation}: {name} has {Samples} samples ({Samples} x {Features}), but the other activations have {expected}; " +
                "every layer must be measured on the same probe inputs", name);
        if (Samples < minimumSamples)
            throw new ArgumentException(
                $"{operation}: {name} has n = {Samples} samples, but at least {minimumSamples} are required", name);
    }

    /// <summary>Throws, naming the first offending element, when any value is NaN or infinite.</summary>
    internal void RequireFinite(string name, string operation)
    {
        int at = FirstNonFinite(Data.Span);
        if (at < 0) return;
        float value = Data.Span[at];
        throw new ArgumentException(
            $"{operation}: {name} is {CkaMaths.Describe(value)} at row {at / Features}, feature {at % Features} " +
            $"({Samples} x {Features}); activations must be finite", name);
    }

    /// <summary>A free finiteness test: diagonal[i] of a Gram matrix computed from these rows is the float64 sum of
    /// squares of row i (or of column i, for the feature-space Gram), which is finite exactly when the row is, since
    /// squares of float32 values cannot overflow float64. Only on failure are the activations scanned, to name the
    /// element; a whole-layer scan up front would cost a tenth of a large Gram computation.</summary>
    internal void RequireFiniteDiagonal(ReadOnlySpan<double> gram, int order, string name, string operation)
    {
        for (int i = 0; i < order; i++)
            if (!double.IsFinite(gram[i * order + i]))
            {
                RequireFinite(name, operation);
                return;
            }
    }

    /// <summary>The index of the first NaN or infinity in <paramref name="values"/>, or -1.</summary>
    internal static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        // x - x is 0 for finite x and NaN for NaN or infinity; blocks of vectors keep the common, clean case branch-light.
        const int Block = 256;
        int start = 0;
        for (; start + Block <= values.Length; start += Block)
        {
            var clean = Vector256<float>.AllBitsSet;
            var block = values.Slice(start, Block);
            for (int i = 0; i < Block; i += Vector256<float>.Count)
            {
                var v = Vector256.Create(block.Slice(i, Vector256<float>.Count));
                clean &= Vector256.Equals(v - v, Vector256<float>.Zero);
            }
            // Comparing the float lanes with == would see NaN (all bits set) as unequal to itself: test the sign bits.
            if (clean.ExtractMostSignificantBits() != (1u << Vector256<float>.Count) - 1) break;
        }
        for (int i = start; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return i;
        return -1;
    }
}
