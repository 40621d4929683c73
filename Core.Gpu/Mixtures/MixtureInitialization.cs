using Hybrid.Core.Gpu.Maths;

namespace Hybrid.Core.Gpu;

/// <summary>The parameters that start one EM run, as scikit-learn's <c>_initialize_parameters</c>: responsibilities from
/// the init method, turned into weights, means and covariances by the shared M-step; whatever the options give
/// (weights, means, precisions) replaces its estimate.</summary>
internal static class MixtureInitialization
{
    /// <summary>The start of one initialisation; <paramref name="givenPrecisionsCholesky"/> holds the Cholesky factors
    /// of <c>options.PrecisionsInit</c>, or null.</summary>
    public static MixtureParameters Start(IMixtureKernels kernels, IMixtureData loaded, double[] data, int n, int d,
        GaussianMixtureOptions options, double[]? givenPrecisionsCholesky, Random rng)
    {
        int k = options.Components;
        CovarianceType type = options.Covariance;
        // A fully given start needs no responsibilities (scikit-learn computes them and then discards every estimate).
        MixtureEstimate? estimate = options.WeightsInit is null || options.MeansInit is null || givenPrecisionsCholesky is null
            ? FromResponsibilities(kernels, loaded, Responsibilities(data, n, d, k, options.Init, rng), type, k, d,
                options.RegCovar)
            : null;
        // Initial weights are counts / n, not / their sum, as in scikit-learn: for the one-point inits (k-means++,
        // random_from_data) they sum to k / n, which only lowers the first lower bound; the first M-step normalises.
        return new MixtureParameters(type, k, d,
            (double[]?)options.WeightsInit?.Clone() ?? estimate!.Weights(n),
            (double[]?)options.MeansInit?.Clone() ?? estimate!.Means,
            givenPrecisionsCholesky ?? GmmLinearAlgebra.PrecisionCholeskyFromCovariances(type, estimate!.Covariances, k, d));
    }

    /// <summary>The M-step of given responsibilities: one accumulation about the origin finds the means, a second one
    /// takes the moments about them, so that the covariances are free of cancellation.</summary>
    static MixtureEstimate FromResponsibilities(IMixtureKernels kernels, IMixtureData loaded, double[] responsibilities,
        CovarianceType type, int k, int d, double regCovar)
    {
        var statistics = new MixtureStatistics(type, k, d);
        var shifts = new double[k * d];
        kernels.Accumulate(loaded, responsibilities, shifts, statistics);
        for (int j = 0; j < k; j++)
            for (int a = 0; a < d; a++)
                shifts[j * d + a] = statistics.Counts[j] > 0.0 ? statistics.Sums[j * d + a] / statistics.Counts[j] : 0.0;
        kernels.Accumulate(loaded, responsibilities, shifts, statistics);
        return MixtureMaximization.Estimate(statistics, shifts, regCovar);
    }

    /// <summary>n x k responsibilities of the init method. The one-point methods (k-means++, random_from_data) leave
    /// every other row at zero, as scikit-learn does: each component starts at its point with covariance reg_covar.
    /// (For tied, scikit-learn's pooled formula X'X - Σ nₖ μₖ μₖ' assumes rows that sum to one and so starts from the
    /// data's uncentred second moment; the scatter here is the chosen points' own, zero, so tied starts at reg_covar too.)</summary>
    static double[] Responsibilities(double[] data, int n, int d, int k, MixtureInit init, Random rng)
    {
        var responsibilities = new double[(long)n * k];
        switch (init)
        {
            case MixtureInit.Kmeans:
                int[] labels = KMeans.Labels(data, n, d, k, rng);
                for (int i = 0; i < n; i++) responsibilities[i * k + labels[i]] = 1.0;
                break;
            case MixtureInit.KmeansPlusPlus:
                int[] seeds = KMeans.PlusPlusSeeds(data, n, d, k, rng);
                for (int j = 0; j < k; j++) responsibilities[seeds[j] * k + j] = 1.0;
                break;
            case MixtureInit.Random:
                for (int i = 0; i < n; i++)
                {
                    double sum = 0.0;
                    for (int j = 0; j < k; j++) sum += responsibilities[i * k + j] = rng.NextDouble();
                    for (int j = 0; j < k; j++) responsibilities[i * k + j] /= sum;
                }
                break;
            case MixtureInit.RandomFromData:
                // A partial Fisher-Yates shuffle: k distinct row indices, uniformly.
                int[] rows = Enumerable.Range(0, n).ToArray();
                for (int j = 0; j < k; j++)
                {
                    int pick = j + rng.Next(n - j);
                    (rows[j], rows[pick]) = (rows[pick], rows[j]);
                    responsibilities[rows[j] * k + j] = 1.0;
                }
                break;
        }
        return responsibilities;
    }
}
