namespace Hybrid.Core.Gpu;

/// <summary>Standard normal draws by the Box-Muller transform: the one normal sampler of Hybrid (seeded generators,
/// mixture sampling, test and benchmark data all draw through it, so a seed gives the same numbers everywhere).
/// The first uniform is taken as 1 - u, so that the logarithm's argument lies in (0, 1] and the radius is finite.</summary>
public static class BoxMuller
{
    /// <summary>Two independent standard normal draws from two uniforms in [0, 1): radius sqrt(-2 log(1 - u1)) times the
    /// cosine and the sine of the angle 2 pi u2 (one logarithm and one sine-cosine per pair).</summary>
    public static (double Cos, double Sin) Pair(double u1, double u2)
    {
        double radius = Math.Sqrt(-2.0 * Math.Log(1.0 - u1));
        var (sin, cos) = Math.SinCos(2.0 * Math.PI * u2);
        return (radius * cos, radius * sin);
    }

    /// <summary>One standard normal draw from two uniforms of <paramref name="random"/> (the cosine half of a pair).</summary>
    public static double Next(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        double u1 = random.NextDouble();
        return Pair(u1, random.NextDouble()).Cos;
    }

    /// <summary><paramref name="count"/> float32 draws, one <see cref="Next"/> each.</summary>
    public static float[] Singles(Random random, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)Next(random);
        return values;
    }

    /// <summary>Fills <paramref name="destination"/> with both halves of consecutive pairs (an odd length drops the last
    /// sine).</summary>
    public static void FillPairs(Random random, Span<double> destination)
    {
        ArgumentNullException.ThrowIfNull(random);
        for (int i = 0; i < destination.Length; i += 2)
        {
            double u1 = random.NextDouble();
            var (cos, sin) = Pair(u1, random.NextDouble());
            destination[i] = cos;
            if (i + 1 < destination.Length) destination[i + 1] = sin;
        }
    }
}
