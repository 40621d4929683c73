namespace Hybrid.Core.Gpu;

/// <summary>A mixture's parameters as the E-step reads them (flat row-major float64, scikit-learn's layout).
/// <see cref="PrecisionsCholesky"/> holds, per component (one shared matrix for tied), any factor U with U Uᵀ = Σ⁻¹:
/// full/tied d x d (upper or lower triangular; the kernels treat it as dense), diag k x d, spherical k.</summary>
internal sealed record MixtureParameters(CovarianceType Type, int Components, int Dimensions,
    double[] Weights, double[] Means, double[] PrecisionsCholesky);

/// <summary>What one pass over the data yields for the M-step: the log-likelihood of the parameters and the
/// responsibility-weighted moments of the data taken about per-component shifts s (the current means). Moments
/// about the current means rather than raw moments over the whole data keep the float64 sums free of large
/// cancellation; the M-step moves them to the new means exactly (scatter about μ' = Scatter - Sums Sumsᵀ / Counts).
/// Backends may form raw moments of a block of rows of the centred data and move them to the shifts there (the Cpu
/// backend does for diag, spherical and tied), which loses digits only where a component sits far from the data's
/// mean compared with its own spread.</summary>
internal sealed class MixtureStatistics
{
    public MixtureStatistics(CovarianceType type, int components, int dimensions)
    {
        Type = type;
        Components = components;
        Dimensions = dimensions;
        Counts = new double[components];
        Sums = new double[components * dimensions];
        Scatter = new double[type switch
        {
            CovarianceType.Full => components * dimensions * dimensions,
            CovarianceType.Tied => dimensions * dimensions,
            CovarianceType.Diag => components * dimensions,
            _ => components,
        }];
    }

    public CovarianceType Type { get; }
    public int Components { get; }
    public int Dimensions { get; }

    /// <summary>Σᵢ log Σⱼ wⱼ N(xᵢ | μⱼ, Σⱼ) (a sum, not a mean).</summary>
    public double LogLikelihood { get; set; }

    /// <summary>Σᵢ rᵢⱼ (k values).</summary>
    public double[] Counts { get; }

    /// <summary>Σᵢ rᵢⱼ (xᵢ - sⱼ) (k x d).</summary>
    public double[] Sums { get; }

    /// <summary>Full: Σᵢ rᵢⱼ (xᵢ - sⱼ)(xᵢ - sⱼ)ᵀ per component (k x d x d, both triangles); tied: the same summed over
    /// the components (d x d), all the M-step reads of it. Diag: Σᵢ rᵢⱼ (xᵢ - sⱼ)² per feature (k x d); spherical: the
    /// same summed over the features, Σᵢ rᵢⱼ ‖xᵢ - sⱼ‖² (k).</summary>
    public double[] Scatter { get; }

    /// <summary>Zeroes every sum (a pass overwrites nothing it does not accumulate).</summary>
    public void Clear()
    {
        LogLikelihood = 0.0;
        Array.Clear(Counts);
        Array.Clear(Sums);
        Array.Clear(Scatter);
    }
}

/// <summary>Data a backend keeps where its kernels read it (host memory, or device memory on the GPU), loaded once per
/// fit so that every EM iteration reads it in place.</summary>
internal interface IMixtureData : IDisposable
{
    int Samples { get; }
    int Dimensions { get; }
}

/// <summary>What each backend implements for Gaussian mixtures; the shared driver (EM loop, M-step from the statistics,
/// initialisation, scoring) runs on the host. Callers have validated shapes and finiteness.</summary>
internal interface IMixtureKernels
{
    /// <summary>Makes the n x d row-major <paramref name="data"/> resident for the passes below.</summary>
    IMixtureData Load(double[] data, int n, int d);

    /// <summary>One fused E-step pass with <paramref name="parameters"/>: responsibilities rᵢⱼ ∝ wⱼ N(xᵢ | j) (never
    /// stored), accumulated into <paramref name="statistics"/> (cleared first) about the shifts sⱼ = parameters.Means.</summary>
    void Pass(IMixtureData data, MixtureParameters parameters, MixtureStatistics statistics);

    /// <summary>The statistics of given responsibilities (n x k, rows summing to one) about <paramref name="shifts"/>
    /// (k x d), as <see cref="Pass"/> accumulates them; LogLikelihood is left 0. Used by initialisation.</summary>
    void Accumulate(IMixtureData data, double[] responsibilities, double[] shifts, MixtureStatistics statistics);

    /// <summary>The n x k matrix log wⱼ + log N(xᵢ | μⱼ, Σⱼ), for scoring and prediction.</summary>
    double[] WeightedLogProb(IMixtureData data, MixtureParameters parameters);
}
