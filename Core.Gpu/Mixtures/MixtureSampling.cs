using Hybrid.Core.Gpu.Maths;

namespace Hybrid.Core.Gpu;

/// <summary>The random draws of <see cref="GaussianMixtureModel.Sample"/>.</summary>
internal static class MixtureSampling
{
    /// <summary>An index drawn with probability proportional to <paramref name="weights"/> (inverse of the cumulative
    /// weights; a draw that rounding puts past the end takes the last component of positive weight).</summary>
    public static int Categorical(double[] weights, Random rng)
    {
        double total = 0.0;
        foreach (double w in weights) total += w;
        double draw = rng.NextDouble() * total, cumulative = 0.0;
        int last = 0;
        for (int j = 0; j < weights.Length; j++)
        {
            if (weights[j] <= 0.0) continue;
            last = j;
            cumulative += weights[j];
            if (draw < cumulative) return j;
        }
        return last;
    }

    /// <summary>L with L Lᵀ = Σ per covariance: the lower Cholesky factor for full and tied, √σ² otherwise.</summary>
    public static double[] CovarianceFactors(CovarianceType type, double[] covariances, int k, int d)
    {
        if (type is CovarianceType.Diag or CovarianceType.Spherical) return Array.ConvertAll(covariances, Math.Sqrt);
        var factors = new double[covariances.Length];
        for (int m = 0; m < covariances.Length / (d * d); m++)
            if (!GmmLinearAlgebra.TryCholeskyLower(covariances, m * d * d, d, factors))
                throw new InvalidOperationException($"covariance {m} of the model is not positive definite.");
        return factors;
    }

    /// <summary>destination = μ + L z for component <paramref name="component"/>.</summary>
    public static void Transform(CovarianceType type, double[] factors, int component, int d, double[] z,
        ReadOnlySpan<double> mean, Span<double> destination)
    {
        for (int a = 0; a < d; a++)
        {
            double value = mean[a];
            switch (type)
            {
                case CovarianceType.Full or CovarianceType.Tied:
                    int offset = type == CovarianceType.Full ? component * d * d : 0;
                    for (int b = 0; b <= a; b++) value += factors[offset + a * d + b] * z[b];
                    break;
                case CovarianceType.Diag:
                    value += factors[component * d + a] * z[a];
                    break;
                default:
                    value += factors[component] * z[a];
                    break;
            }
            destination[a] = value;
        }
    }
}
