namespace Hybrid.Core.Gpu.Reference;

/// <summary>A fitted Gaussian mixture, laid out as scikit-learn's <c>GaussianMixture</c> attributes, with the
/// scoring methods that use it. Arrays are flat, row-major float64; samples are rows of <see cref="Dimensions"/>.</summary>
internal sealed class GmmModel
{
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

    /// <summary>Per-sample log-likelihood log Σⱼ wⱼ N(xᵢ | μⱼ, Σⱼ) (n values).</summary>
    public double[] ScoreSamples(double[] data)
    {
        int n = Rows(data);
        double[] weighted = WeightedLogProb(data, n);
        var result = new double[n];
        for (int i = 0; i < n; i++) result[i] = GmmLinearAlgebra.LogSumExp(weighted, i * Components, Components);
        return result;
    }

    /// <summary>Posterior probabilities of the components per sample (n x k); each row sums to one.</summary>
    public double[] PredictProba(double[] data)
    {
        int n = Rows(data);
        double[] weighted = WeightedLogProb(data, n);
        var result = new double[n * Components];
        for (int i = 0; i < n; i++)
        {
            double norm = GmmLinearAlgebra.LogSumExp(weighted, i * Components, Components);
            for (int j = 0; j < Components; j++)
                result[i * Components + j] = Math.Exp(weighted[i * Components + j] - norm);
        }
        return result;
    }

    /// <summary>The most probable component per sample (n labels); ties go to the lower index.</summary>
    public int[] Predict(double[] data)
    {
        int n = Rows(data);
        double[] weighted = WeightedLogProb(data, n);
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
    public double Score(double[] data)
    {
        double[] perSample = ScoreSamples(data);
        double sum = 0.0;
        foreach (double v in perSample) sum += v;
        return sum / perSample.Length;
    }

    /// <summary>Bayesian information criterion -2 log L + p ln n, with p from <see cref="GmmShapes.FreeParameters"/>
    /// (lower is better).</summary>
    public double Bic(double[] data)
    {
        int n = Rows(data);
        return -2.0 * Score(data) * n + FreeParameters * Math.Log(n);
    }

    /// <summary>Akaike information criterion -2 log L + 2p (lower is better).</summary>
    public double Aic(double[] data)
    {
        int n = Rows(data);
        return -2.0 * Score(data) * n + 2.0 * FreeParameters;
    }

    /// <summary>Free parameters counted by <see cref="Bic"/> and <see cref="Aic"/>.</summary>
    public int FreeParameters => GmmShapes.FreeParameters(CovarianceType, Components, Dimensions);

    double[] WeightedLogProb(double[] data, int n) => GmmLinearAlgebra.WeightedLogProb(
        data, n, Dimensions, Components, CovarianceType, Weights, Means, PrecisionsCholesky);

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
