namespace Hybrid.Core.Nn.Data;

/// <summary>SplitMix64 (Steele, Lea and Flood 2014): a tiny generator whose output depends only on its seed, defined
/// here so that orders and augmentations are the same on every .NET version and platform (System.Random's seeded
/// sequence is not a documented contract). <see cref="For"/> derives independent streams from (seed, epoch, stream),
/// which lets every sample be augmented from its own stream, in any thread, with the same result.</summary>
struct SplitMix64
{
    ulong state;

    SplitMix64(ulong state) => this.state = state;

    /// <summary>The generator for one (seed, epoch, stream) triple; stream 0 is the epoch's shuffle, stream p + 1 the
    /// augmentation of the sample at position p of the epoch.</summary>
    public static SplitMix64 For(long seed, int epoch, long stream) =>
        new(Mix(Mix(Mix((ulong)seed) + (ulong)(uint)epoch) + (ulong)stream));

    /// <summary>The next 64 uniformly distributed bits.</summary>
    public ulong Next()
    {
        state += 0x9E3779B97F4A7C15UL;
        return Mix(state);
    }

    /// <summary>A uniform integer in [0, <paramref name="n"/>) for n &gt; 0, without modulo bias (Lemire 2019).</summary>
    public int NextInt(int n)
    {
        ulong bound = (ulong)n;
        ulong product = (ulong)(uint)(Next() >> 32) * bound;
        if ((uint)product < (uint)bound)
        {
            uint threshold = unchecked(0u - (uint)n) % (uint)n;
            while ((uint)product < threshold) product = (ulong)(uint)(Next() >> 32) * bound;
        }
        return (int)(product >> 32);
    }

    /// <summary>A uniform float in [0, 1) with 24 random bits.</summary>
    public float NextFloat() => (Next() >> 40) * (1f / (1 << 24));

    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
