using System.Runtime.Intrinsics;
using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>A seeded source of random numbers for initialisation, dropout and sampling: the same seed gives the same
/// numbers on every platform (SplitMix64; normals by Box-Muller), so runs are reproducible from their recorded seed.</summary>
public sealed class Generator(long seed)
{
    ulong state = (ulong)seed;
    double? spareNormal;

    /// <summary>SplitMix64's step: the state after i draws is the seed plus i times this.</summary>
    const ulong Gamma = 0x9E3779B97F4A7C15UL;

    /// <summary>The seed this generator started from.</summary>
    public long Seed { get; } = seed;

    /// <summary>The next 64 uniformly distributed bits.</summary>
    public ulong NextBits()
    {
        state += Gamma;
        ulong z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextBits() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Draws one <see cref="NextDouble"/> per element of <paramref name="target"/> and writes
    /// <paramref name="keep"/> where the draw is at least <paramref name="p"/> (in [0, 1]), zero elsewhere: the same draws
    /// and outcomes as a loop of NextDouble calls, eight at a time where AVX-512 is there (SplitMix64's i-th output is a
    /// function of the state and i alone). Dropout's masks.</summary>
    public void FillKept<T>(Span<T> target, double p, T keep) where T : unmanaged, INumberBase<T>
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(p, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(p, 1.0);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            // NextDouble() is u 2^-53 for u = NextBits() >> 11 < 2^53, exactly, and p 2^53 is exact: so the draw is at
            // least p exactly when u >= ceil(p 2^53), an integer comparison.
            var threshold = Vector512.Create((ulong)Math.Ceiling(p * (1UL << 53)));
            var s = Vector512.Create(state) + Vector512.Create(1UL, 2, 3, 4, 5, 6, 7, 8) * Gamma;
            // A lookup, not keep times the bit: p = 1 makes keep infinite, and infinity times 0 is not 0.
            ReadOnlySpan<T> choice = [T.Zero, keep];
            for (; i + 8 <= target.Length; i += 8)
            {
                var z = s;
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
                z ^= z >> 31;
                ulong kept = Vector512.GreaterThanOrEqual(z >> 11, threshold).ExtractMostSignificantBits();
                for (int l = 0; l < 8; l++)
                    target[i + l] = choice[(int)((kept >> l) & 1)];
                s += Vector512.Create(unchecked(8 * Gamma));
            }
            state += (ulong)i * Gamma;
        }
        for (; i < target.Length; i++)
            target[i] = NextDouble() >= p ? keep : T.Zero;
    }

    /// <summary>Uniform in [low, high).</summary>
    public double Uniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>A standard normal draw.</summary>
    public double NextNormal()
    {
        if (spareNormal is { } spare)
        {
            spareNormal = null;
            return spare;
        }
        var (first, second) = NormalPair();
        spareNormal = second;
        return first;
    }

    /// <summary>Two independent standard normal draws (Core.Gpu's Box-Muller sampler).</summary>
    (double, double) NormalPair()
    {
        double u1 = NextDouble();
        return BoxMuller.Pair(u1, NextDouble());
    }

    /// <summary>A tensor of uniform draws in [low, high).</summary>
    public Tensor Uniform(double low, double high, ScalarType dtype, params int[] shape)
    {
        var t = Tensor.Zeros(dtype, null, shape);
        FillUniform(t, low, high);
        return t;
    }

    /// <summary>A tensor of normal draws.</summary>
    public Tensor Normal(double mean, double std, ScalarType dtype, params int[] shape)
    {
        var t = Tensor.Zeros(dtype, null, shape);
        FillNormal(t, mean, std);
        return t;
    }

    /// <summary>Overwrites <paramref name="t"/> with uniform draws in [low, high), in row-major order.</summary>
    public void FillUniform(Tensor t, double low, double high)
    {
        switch (t.Storage)
        {
            case float[] f: for (int i = 0; i < f.Length; i++) f[i] = (float)Uniform(low, high); break;
            case double[] d: for (int i = 0; i < d.Length; i++) d[i] = Uniform(low, high); break;
            default: throw new ArgumentException("uniform draws fill floating-point tensors");
        }
    }

    /// <summary>Overwrites <paramref name="t"/> with normal draws, in row-major order (the same sequence as repeated
    /// <see cref="NextNormal"/> calls).</summary>
    public void FillNormal(Tensor t, double mean, double std)
    {
        switch (t.Storage)
        {
            case float[] f: FillNormal(f.AsSpan(), mean, std, v => (float)v); break;
            case double[] d: FillNormal(d.AsSpan(), mean, std, v => v); break;
            default: throw new ArgumentException("normal draws fill floating-point tensors");
        }
    }

    void FillNormal<T>(Span<T> target, double mean, double std, Func<double, T> convert)
    {
        int i = 0;
        if (i < target.Length && spareNormal is not null) target[i++] = convert(mean + std * NextNormal());
        for (; i + 1 < target.Length; i += 2)
        {
            var (a, b) = NormalPair();
            target[i] = convert(mean + std * a);
            target[i + 1] = convert(mean + std * b);
        }
        if (i < target.Length) target[i] = convert(mean + std * NextNormal());
    }
}
