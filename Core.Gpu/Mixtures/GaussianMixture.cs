using Hybrid.Core.Gpu.Maths;

namespace Hybrid.Core.Gpu;

/// <summary>Gaussian mixtures fitted by EM, as scikit-learn 1.2's <c>GaussianMixture.fit</c>, on any device. The
/// device runs one fused pass over the data per iteration (log-densities, responsibilities and their weighted moments);
/// the M-step, the initialisation and the loop below run on the host and are shared by every device.</summary>
public static class GaussianMixture
{
    /// <summary>Fits a mixture of <c>options.Components</c> Gaussians to the n x d row-major <paramref name="data"/>.</summary>
    /// <remarks>Each iteration runs an E-step on the current parameters, records its mean log-likelihood as the lower
    /// bound, then runs the M-step; EM stops when the bound moves by less than <c>options.Tol</c> or after
    /// <c>options.MaxIter</c> iterations. The first iteration compares against -∞ (or, when warm-starting, against
    /// <paramref name="warmStart"/>'s lower bound), so a fresh start runs at least two iterations unless MaxIter is 1.
    /// The reported bound belongs to the parameters before the last M-step, as scikit-learn reports it.
    /// <para><c>options.NInit</c> initialisations run one after another from one random stream seeded with
    /// <c>options.Seed</c>; the one with the highest final lower bound is returned (the first on ties), with its own
    /// <see cref="GaussianMixtureModel.Converged"/> flag (scikit-learn instead reports whether any initialisation
    /// converged). <paramref name="warmStart"/>, scikit-learn's <c>warm_start</c>, runs a single EM from that model's
    /// weights, means and precisions, ignoring the init options. Dimensions in which the data do not vary get variance
    /// <c>options.RegCovar</c>.</para></remarks>
    /// <param name="device">Where the passes run: Reference (plain loops), Cpu (OpenBLAS and SIMD on all cores), Gpu.</param>
    /// <param name="data">n x d samples, row-major, all finite.</param>
    /// <param name="n">Number of samples (rows).</param>
    /// <param name="d">Number of features (columns).</param>
    /// <param name="options">Components, covariance type, initialisation and stopping rule.</param>
    /// <param name="warmStart">A model to continue from (same covariance type, components and features), or null.</param>
    /// <param name="onIteration">Called after every iteration of every initialisation.</param>
    /// <exception cref="ArgumentException">Non-finite data (the row and column are named), fewer distinct rows than
    /// components, a constant column with RegCovar = 0, out-of-range options, mis-shaped or invalid initial parameters, a
    /// warm start of another shape, or a covariance that stops being positive definite during EM (then a larger RegCovar
    /// is suggested).</exception>
    /// <exception cref="NotSupportedException">The device has no mixture kernels.</exception>
    public static GaussianMixtureModel Fit(Device device, double[] data, int n, int d, GaussianMixtureOptions options,
        GaussianMixtureModel? warmStart = null, Action<MixtureProgress>? onIteration = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        GmmValidation.CheckFit(data, n, d, options, warmStart);
        double[]? givenPrecisionsCholesky = options.PrecisionsInit is { } precisions
            ? GmmLinearAlgebra.PrecisionCholeskyFromPrecisions(options.Covariance, precisions, options.Components, d)
            : null;

        IMixtureKernels kernels = MixtureBackends.For(device);
        using IMixtureData loaded = kernels.Load(data, n, d);
        var rng = new Random(options.Seed);
        GaussianMixtureModel? best = null;
        int inits = warmStart is null ? options.NInit : 1;
        for (int init = 0; init < inits; init++)
        {
            MixtureParameters start = warmStart?.Parameters
                ?? MixtureInitialization.Start(kernels, loaded, data, n, d, options, givenPrecisionsCholesky, rng);
            double previous = warmStart?.LowerBound ?? double.NegativeInfinity;
            GaussianMixtureModel fit = Run(kernels, loaded, start, previous, options, init, onIteration);
            if (best is null || fit.LowerBound > best.LowerBound) best = fit;
        }
        return best!;
    }

    /// <summary>EM from <paramref name="start"/> until the lower bound settles or MaxIter iterations have run.</summary>
    static GaussianMixtureModel Run(IMixtureKernels kernels, IMixtureData data, MixtureParameters start, double previous,
        GaussianMixtureOptions options, int init, Action<MixtureProgress>? onIteration)
    {
        int n = data.Samples, d = data.Dimensions, k = start.Components;
        CovarianceType type = start.Type;
        var statistics = new MixtureStatistics(type, k, d);
        var history = new List<double>();
        MixtureParameters parameters = start;
        double[] covariances;
        double lowerBound = previous;
        bool converged;
        int iteration = 0;
        do
        {
            iteration++;
            previous = lowerBound;
            kernels.Pass(data, parameters, statistics);
            lowerBound = statistics.LogLikelihood / n;
            // Finite parameters give a finite likelihood unless a precision overflowed; never let NaN reach the caller.
            if (!double.IsFinite(lowerBound))
                throw new ArgumentException(
                    $"Gaussian mixture: the log-likelihood became {lowerBound} at iteration {iteration} (a covariance " +
                    "is numerically singular). Use fewer components or a larger reg_covar.", "options");
            MixtureEstimate estimate = MixtureMaximization.Estimate(statistics, parameters.Means, options.RegCovar);
            covariances = estimate.Covariances;
            parameters = new MixtureParameters(type, k, d, estimate.Weights(estimate.Counts.Sum()), estimate.Means,
                GmmLinearAlgebra.PrecisionCholeskyFromCovariances(type, covariances, k, d));
            history.Add(lowerBound);
            onIteration?.Invoke(new MixtureProgress(init, iteration, lowerBound));
            converged = Math.Abs(lowerBound - previous) < options.Tol;
        } while (iteration < options.MaxIter && !converged);
        // scikit-learn ends with one more E-step only to store labels; it changes no parameter, so it is not needed here.

        return new GaussianMixtureModel(parameters, covariances, options, history, converged);
    }
}
