namespace Hybrid.Core.Gpu;

/// <summary>How <see cref="GaussianMixture.Fit"/> chooses the responsibilities that start EM (scikit-learn's
/// <c>init_params</c>) for whichever of weights, means and precisions the options do not give.</summary>
public enum MixtureInit
{
    /// <summary>Labels of k-means (k-means++ seeding, then Lloyd iterations), one-hot ("kmeans").</summary>
    Kmeans,
    /// <summary>k points chosen by greedy k-means++ seeding, each the sole member of one component ("k-means++").</summary>
    KmeansPlusPlus,
    /// <summary>Uniform random responsibilities, normalised per row ("random").</summary>
    Random,
    /// <summary>k distinct rows chosen uniformly, each the sole member of one component ("random_from_data").</summary>
    RandomFromData,
}

/// <summary>Settings of a Gaussian-mixture fit, with scikit-learn 1.2's defaults and meanings
/// (<c>GaussianMixture(n_components, covariance_type, tol, reg_covar, max_iter, n_init, init_params, weights_init,
/// means_init, precisions_init, random_state)</c>).</summary>
/// <remarks>Runs are reproducible from <see cref="Seed"/> on every device (the draws come from
/// <see cref="System.Random"/> seeded with it, and k-means combines its partial sums in a fixed order), but they are not
/// scikit-learn's NumPy draws: only a fully given start (<see cref="WeightsInit"/>, <see cref="MeansInit"/> and
/// <see cref="PrecisionsInit"/>) reproduces scikit-learn's numbers.</remarks>
public sealed record GaussianMixtureOptions
{
    /// <summary>Number of components k (<c>n_components</c>).</summary>
    public int Components { get; init; } = 1;

    /// <summary>Covariance structure (<c>covariance_type</c>).</summary>
    public CovarianceType Covariance { get; init; } = CovarianceType.Full;

    /// <summary>How the parameters that are not given are initialised (<c>init_params</c>).</summary>
    public MixtureInit Init { get; init; } = MixtureInit.Kmeans;

    /// <summary>Initial weights (k, in [0, 1], summing to 1), or null to take them from <see cref="Init"/>.</summary>
    public double[]? WeightsInit { get; init; }

    /// <summary>Initial means (k x d, row-major), or null to take them from <see cref="Init"/>.</summary>
    public double[]? MeansInit { get; init; }

    /// <summary>Initial precisions (inverse covariances), shaped as the covariances: full k x d x d, tied d x d, diag k x d,
    /// spherical k; symmetric positive definite (full, tied) or positive (diag, spherical). Null to take them from
    /// <see cref="Init"/>.</summary>
    public double[]? PrecisionsInit { get; init; }

    /// <summary>Initialisations to run; the fit with the highest final lower bound is kept, the first on ties
    /// (<c>n_init</c>).</summary>
    public int NInit { get; init; } = 1;

    /// <summary>EM stops when the lower bound moves by less than this between iterations (<c>tol</c>; 0 runs
    /// <see cref="MaxIter"/> iterations).</summary>
    public double Tol { get; init; } = 1e-3;

    /// <summary>Added to every variance (the diagonal of each covariance) so that covariances stay positive definite,
    /// also along dimensions in which the data do not vary (<c>reg_covar</c>). With 0, such data are rejected.</summary>
    public double RegCovar { get; init; } = 1e-6;

    /// <summary>EM iterations per initialisation at most (<c>max_iter</c>).</summary>
    public int MaxIter { get; init; } = 100;

    /// <summary>Seed of every random draw of the fit (<c>random_state</c>).</summary>
    public int Seed { get; init; }
}

/// <summary>Reported after each EM iteration: the 0-based initialisation, the 1-based iteration within it, and that
/// iteration's lower bound (the mean log-likelihood of the parameters that entered its M-step).</summary>
public readonly record struct MixtureProgress(int Init, int Iteration, double LowerBound);
