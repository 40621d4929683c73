namespace Hybrid.Core.Gpu;

/// <summary>What the M-step makes of one pass's statistics: soft counts, means and regularised covariances.</summary>
/// <param name="Counts">Σᵢ rᵢⱼ + 10 ε per component (k).</param>
/// <param name="Means">k x d.</param>
/// <param name="Covariances">full k x d x d, tied d x d, diag k x d, spherical k; reg_covar included.</param>
internal sealed record MixtureEstimate(double[] Counts, double[] Means, double[] Covariances)
{
    /// <summary>Counts / <paramref name="divisor"/>: EM divides by their sum, initialisation by n (as scikit-learn).</summary>
    public double[] Weights(double divisor) => Array.ConvertAll(Counts, c => c / divisor);
}

/// <summary>The M-step of every backend, on the host: maximum-likelihood parameters from the responsibility-weighted
/// moments that <see cref="IMixtureKernels.Pass"/> or <see cref="IMixtureKernels.Accumulate"/> summed about per-component
/// shifts. The arithmetic is scikit-learn's <c>_estimate_gaussian_parameters</c> with the moments moved exactly from the
/// shifts to the new means instead of being formed from raw sums.</summary>
internal static class MixtureMaximization
{
    // The spacing of doubles at 1 (numpy's finfo(float64).eps); .NET's double.Epsilon is the smallest subnormal instead.
    const double MachineEpsilon = 2.220446049250313e-16;

    /// <summary>Counts, means and covariances from <paramref name="s"/>, taken about <paramref name="shifts"/> (k x d).</summary>
    /// <remarks>Each soft count is raised by 10 ε so that an empty component divides by a tiny number rather than zero,
    /// and its mean (Σ rᵢⱼ xᵢ) / countⱼ is formed as (rawCountⱼ sⱼ + Sumsⱼ) / countⱼ, which is that quotient exactly.
    /// With δ = μ - s the scatter about μ is Scatter - δ Sumsᵀ - Sums δᵀ + rawCount δ δᵀ (the diagonal analogue for
    /// diag and spherical). Full and diag divide it by the component's count; tied pools it over components and divides
    /// by the total count; spherical averages the diag variances over the d features. reg_covar is then added to every
    /// variance, as scikit-learn does.</remarks>
    public static MixtureEstimate Estimate(MixtureStatistics s, double[] shifts, double regCovar)
    {
        int k = s.Components, d = s.Dimensions;
        var counts = new double[k];
        var means = new double[k * d];
        var delta = new double[k * d];
        for (int j = 0; j < k; j++)
        {
            counts[j] = s.Counts[j] + 10.0 * MachineEpsilon;
            for (int a = 0; a < d; a++)
            {
                int e = j * d + a;
                means[e] = (s.Counts[j] * shifts[e] + s.Sums[e]) / counts[j];
                delta[e] = means[e] - shifts[e];
            }
        }
        double[] covariances = s.Type is CovarianceType.Full or CovarianceType.Tied
            ? MatrixCovariances(s, counts, delta, regCovar)
            : DiagonalCovariances(s, counts, delta, regCovar);
        return new MixtureEstimate(counts, means, covariances);
    }

    static double[] MatrixCovariances(MixtureStatistics s, double[] counts, double[] delta, double regCovar)
    {
        int k = s.Components, d = s.Dimensions;
        bool tied = s.Type == CovarianceType.Tied;
        // Tied's scatter is already summed over the components: it enters once, the moves to each mean per component.
        var result = tied ? (double[])s.Scatter.Clone() : new double[k * d * d];
        for (int j = 0; j < k; j++)
        {
            int m = j * d * d, target = tied ? 0 : m;
            double scale = tied ? 1.0 : 1.0 / counts[j];
            for (int a = 0; a < d; a++)
                for (int b = a; b < d; b++)
                {
                    double da = delta[j * d + a], db = delta[j * d + b];
                    double moved = (tied ? 0.0 : s.Scatter[m + a * d + b]) - da * s.Sums[j * d + b]
                        - s.Sums[j * d + a] * db + s.Counts[j] * da * db;
                    result[target + a * d + b] += moved * scale;
                }
        }
        double total = tied ? counts.Sum() : 1.0;
        for (int matrix = 0; matrix < result.Length / (d * d); matrix++)
            for (int a = 0; a < d; a++)
                for (int b = a; b < d; b++)
                {
                    int upper = matrix * d * d + a * d + b;
                    double value = result[upper] / total + (a == b ? regCovar : 0.0);
                    result[upper] = value;
                    result[matrix * d * d + b * d + a] = value;
                }
        return result;
    }

    static double[] DiagonalCovariances(MixtureStatistics s, double[] counts, double[] delta, double regCovar)
    {
        int k = s.Components, d = s.Dimensions;
        bool spherical = s.Type == CovarianceType.Spherical;
        var result = new double[spherical ? k : k * d];
        for (int j = 0; j < k; j++)
        {
            // Spherical's scatter is already summed over the features: it enters once, the moves per feature.
            double moved = spherical ? s.Scatter[j] : 0.0;
            for (int a = 0; a < d; a++)
            {
                int e = j * d + a;
                double move = -2.0 * delta[e] * s.Sums[e] + s.Counts[j] * delta[e] * delta[e];
                if (spherical) moved += move;
                else result[e] = (s.Scatter[e] + move) / counts[j] + regCovar;
            }
            if (spherical) result[j] = moved / (counts[j] * d) + regCovar;
        }
        return result;
    }
}
