using System.Diagnostics.CodeAnalysis;
using Hybrid.Core.Gpu.Maths;

namespace Hybrid.Core.Gpu;

/// <summary>A fitted Gaussian mixture, laid out as scikit-learn's <c>GaussianMixture</c> attributes, with the
/// scoring methods that use it. Arrays are flat, row-major float64; samples are rows of <see cref="Dimensions"/>.
/// Scoring runs on the device given to each method (the Cpu backend by default).</summary>
public sealed class GaussianMixtureModel
{
    /// <summary>The model of <paramref name="parameters"/> with their <paramref name="covariances"/>, after the EM
    /// iterations whose lower bounds <paramref name="lowerBoundHistory"/> lists (none for a restored model).</summary>
    [SetsRequiredMembers]
    internal GaussianMixtureModel(MixtureParameters parameters, double[] covariances, GaussianMixtureOptions options,
        IReadOnlyList<double> lowerBoundHistory, bool converged)
    {
        CovarianceType = parameters.Type;
        Components = parameters.Components;
        Dimensions = parameters.Dimensions;
        Weights = parameters.Weights;
        Means = parameters.Means;
        Covariances = covariances;
        PrecisionsCholesky = parameters.PrecisionsCholesky;
        Converged = converged;
        NIter = lowerBoundHistory.Count;
        LowerBound = lowerBoundHistory.Count > 0 ? lowerBoundHistory[^1] : double.NaN;
        LowerBoundHistory = lowerBoundHistory;
        Options = options;
    }

    /// <summary>A fitted model read back from its saved parameters (scikit-learn's attributes, flat row-major), for
    /// scoring: <paramref name="weights"/> (k), <paramref name="means"/> (k x d), <paramref name="covariances"/> and
    /// <paramref name="precisionsCholesky"/> in the layout of <paramref name="type"/>. The fit's history is not kept.</summary>
    /// <exception cref="ArgumentException">Arrays whose lengths do not fit k components in d dimensions.</exception>
    public static GaussianMixtureModel Restore(CovarianceType type, double[] weights, double[] means, double[] covariances,
        double[] precisionsCholesky)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(means);
        ArgumentNullException.ThrowIfNull(covariances);
        ArgumentNullException.ThrowIfNull(precisionsCholesky);
        int k = weights.Length;
        if (k < 1 || means.Length % k != 0 || means.Length == 0)
            throw new ArgumentException($"means: length {means.Length} is not {k} components x d", nameof(means));
        int d = means.Length / k;
        int expected = GmmShapes.CovarianceLength(type, k, d);
        if (covariances.Length != expected || precisionsCholesky.Length != expected)
            throw new ArgumentException(
                $"covariances ({covariances.Length}) and precisions_cholesky ({precisionsCholesky.Length}) must both hold {expected} values for {k} {type.SklearnName()} components in {d} dimensions",
                nameof(covariances));
        return new GaussianMixtureModel(new MixtureParameters(type, k, d, weights, means, precisionsCholesky), covariances,
            new GaussianMixtureOptions { Components = k, Covariance = type }, lowerBoundHistory: [], converged: true);
    }

    /// <summary>The covariance structure the arrays below follow.</summary>
    public required CovarianceType CovarianceType { get; init; }
    /// <summary>Number of components k.</summary>
    public required int Components { get; init; }
    /// <summary>Number of features d.</summary>
    public required int Dimensions { get; init; }
    /// <summary>Mixing weights (k), summing to one.</summary>
    public required double[] Weights { get; init; }
    /// <summary>Component means (k x d).</summary>
    public required double[] Means { get; init; }
    /// <summary>Covariances, regularised: full k x d x d, tied d x d, diag k x d, spherical k.</summary>
    public required double[] Covariances { get; init; }
    /// <summary>Cholesky factors U of the precisions (U Uᵀ = Σ⁻¹), shaped as <see cref="Covariances"/>; upper
    /// triangular for full and tied as scikit-learn's <c>precisions_cholesky_</c>.</summary>
    public required double[] PrecisionsCholesky { get; init; }
    /// <summary>Whether the lower bound changed by less than tol within the iteration limit.</summary>
    public required bool Converged { get; init; }
    /// <summary>EM iterations run (scikit-learn's <c>n_iter_</c>).</summary>
    public required int NIter { get; init; }
    /// <summary>The lower bound of the last iteration: the mean log-likelihood of the parameters that entered that
    /// iteration's M-step (scikit-learn's <c>lower_bound_</c>).</summary>
    public required double LowerBound { get; init; }
    /// <summary>The lower bound of every iteration in order; its last element is <see cref="LowerBound"/>.</summary>
    public required IReadOnlyList<double> LowerBoundHistory { get; init; }
    /// <summary>The options the model was fitted with (its seed included).</summary>
    public required GaussianMixtureOptions Options { get; init; }

    /// <summary>The precisions Σ⁻¹ = U Uᵀ, shaped as <see cref="Covariances"/> (scikit-learn's <c>precisions_</c>).</summary>
    public double[] Precisions
    {
        get
        {
            int d = Dimensions;
            if (CovarianceType is CovarianceType.Diag or CovarianceType.Spherical)
                return Array.ConvertAll(PrecisionsCholesky, u => u * u);
            var result = new double[PrecisionsCholesky.Length];
            for (int m = 0; m < result.Length / (d * d); m++)
                for (int a = 0; a < d; a++)
                    for (int b = 0; b < d; b++)
                    {
                        double sum = 0.0;
                        for (int c = 0; c < d; c++) sum += PrecisionsCholesky[m * d * d + a * d + c] * PrecisionsCholesky[m * d * d + b * d + c];
                        result[m * d * d + a * d + b] = sum;
                    }
            return result;
        }
    }

    /// <summary>Free parameters counted by <see cref="Bic"/> and <see cref="Aic"/>.</summary>
    public int FreeParameters => GmmShapes.FreeParameters(CovarianceType, Components, Dimensions);

    internal MixtureParameters Parameters => new(CovarianceType, Components, Dimensions, Weights, Means, PrecisionsCholesky);

    /// <summary>Per-sample log-likelihood log Σⱼ wⱼ N(xᵢ | μⱼ, Σⱼ) (n values) of the row-major
    /// <paramref name="data"/>.</summary>
    public double[] ScoreSamples(double[] data, Device? device = null)
    {
        var (n, weighted) = WeightedLogProb(data, device);
        var result = new double[n];
        for (int i = 0; i < n; i++) result[i] = GmmLinearAlgebra.LogSumExp(weighted, i * Components, Components);
        return result;
    }

    /// <summary>Posterior probabilities of the components per sample (n x k); each row sums to one.</summary>
    public double[] PredictProba(double[] data, Device? device = null)
    {
        var (n, weighted) = WeightedLogProb(data, device);
        for (int i = 0; i < n; i++)
        {
            double norm = GmmLinearAlgebra.LogSumExp(weighted, i * Components, Components);
            for (int j = 0; j < Components; j++) weighted[i * Components + j] = Math.Exp(weighted[i * Components + j] - norm);
        }
        return weighted;
    }

    /// <summary>The most probable component per sample (n labels); ties go to the lower index.</summary>
    public int[] Predict(double[] data, Device? device = null)
    {
        var (n, weighted) = WeightedLogProb(data, device);
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int j = 1; j < Components; j++)
                if (weighted[i * Components + j] > weighted[i * Components + best]) best = j;
            labels[i] = best;
        }
        return labels;
    }

    /// <summary>Mean per-sample log-likelihood.</summary>
    public double Score(double[] data, Device? device = null)
    {
        double[] perSample = ScoreSamples(data, device);
        double sum = 0.0;
        foreach (double v in perSample) sum += v;
        return sum / perSample.Length;
    }

    /// <summary>Bayesian information criterion -2 log L + p ln n, with p = <see cref="FreeParameters"/> (lower is
    /// better).</summary>
    public double Bic(double[] data, Device? device = null)
    {
        double score = Score(data, device);
        return -2.0 * score * (data.Length / Dimensions) + FreeParameters * Math.Log(data.Length / Dimensions);
    }

    /// <summary>Akaike information criterion -2 log L + 2p (lower is better).</summary>
    public double Aic(double[] data, Device? device = null)
    {
        double score = Score(data, device);
        return -2.0 * score * (data.Length / Dimensions) + 2.0 * FreeParameters;
    }

    /// <summary><paramref name="count"/> samples (count x d, row-major) and the component each came from, grouped by
    /// component in order as scikit-learn's <c>sample</c>: the component counts are multinomial over
    /// <see cref="Weights"/>, and each sample is μⱼ + Lⱼ z with z standard normal and Lⱼ Lⱼᵀ = Σⱼ. Reproducible from
    /// <paramref name="seed"/>, but not NumPy's draws.</summary>
    public (double[] Samples, int[] Labels) Sample(int count, int seed)
    {
        if (count < 1) throw new ArgumentException($"count: {count} must be at least 1.", nameof(count));
        var rng = new Random(seed);
        int k = Components, d = Dimensions;
        var perComponent = new int[k];
        for (int s = 0; s < count; s++) perComponent[MixtureSampling.Categorical(Weights, rng)]++;

        double[] factors = MixtureSampling.CovarianceFactors(CovarianceType, Covariances, k, d);
        var samples = new double[count * d];
        var labels = new int[count];
        var z = new double[d];
        int row = 0;
        for (int j = 0; j < k; j++)
            for (int s = 0; s < perComponent[j]; s++, row++)
            {
                for (int a = 0; a < d; a++) z[a] = BoxMuller.Next(rng);
                MixtureSampling.Transform(CovarianceType, factors, j, d, z, Means.AsSpan(j * d, d), samples.AsSpan(row * d, d));
                labels[row] = j;
            }
        return (samples, labels);
    }

    (int Rows, double[] Weighted) WeightedLogProb(double[] data, Device? device)
    {
        int n = Rows(data);
        IMixtureKernels kernels = MixtureBackends.For(device ?? Device.Cpu);
        using IMixtureData loaded = kernels.Load(data, n, Dimensions);
        return (n, kernels.WeightedLogProb(loaded, Parameters));
    }

    // Scoring takes the same row-major layout as fitting; a ragged or empty array is a caller error, and so is a
    // non-finite value (it would silently turn a score into NaN).
    int Rows(double[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length == 0 || data.Length % Dimensions != 0)
            throw new ArgumentException(
                $"data: length {data.Length} is not a positive multiple of the model's {Dimensions} features.",
                nameof(data));
        int n = data.Length / Dimensions;
        GmmValidation.RequireFinite(data, n, Dimensions);
        return n;
    }
}
