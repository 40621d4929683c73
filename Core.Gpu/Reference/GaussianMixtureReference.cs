namespace Hybrid.Core.Gpu.Reference;

/// <summary>The specification of Gaussian-mixture EM: scikit-learn 1.2 <c>GaussianMixture.fit</c> from a fully given
/// start (weights_init, means_init, precisions_init), written as plain float64 loops. Faster backends are tested
/// against it, so it favours the textbook form of each step over speed.</summary>
internal static class GaussianMixtureReference
{
    /// <summary>Fits a k-component mixture to the n x d row-major <paramref name="data"/> by EM.</summary>
    /// <remarks>Each iteration runs an E-step on the current parameters, records its mean log-likelihood as the lower
    /// bound, then runs the M-step; EM stops when the bound moves by less than <paramref name="tol"/> (the first
    /// iteration compares against -∞, so at least two run unless <paramref name="maxIter"/> is 1). The reported
    /// bound therefore belongs to the parameters before the last M-step, as scikit-learn reports it.
    /// <paramref name="precisionsInit"/> is shaped as the covariances: full k x d x d, tied d x d, diag k x d,
    /// spherical k. <paramref name="onIteration"/>, when given, is called after each iteration with its 1-based number
    /// and lower bound.</remarks>
    /// <exception cref="ArgumentException">Non-finite data (the row is named), k above the number of distinct rows,
    /// mis-shaped or invalid initial parameters, or a covariance that stops being positive definite during EM
    /// (then a larger <paramref name="regCovar"/> is suggested).</exception>
    public static GmmModel Fit(double[] data, int n, int d, int k, CovarianceType type,
        double[] weightsInit, double[] meansInit, double[] precisionsInit,
        double tol = 1e-3, double regCovar = 1e-6, int maxIter = 100, Action<int, double>? onIteration = null)
    {
        GmmValidation.CheckFitArguments(data, n, d, k, type, weightsInit, meansInit, precisionsInit, tol, regCovar, maxIter);

        double[] weights = (double[])weightsInit.Clone();
        double[] means = (double[])meansInit.Clone();
        double[] precisionsCholesky = GmmLinearAlgebra.PrecisionCholeskyFromPrecisions(type, precisionsInit, k, d);
        double[] covariances;

        var history = new List<double>();
        double lowerBound = double.NegativeInfinity;
        bool converged = false;
        int iteration = 0;
        var responsibilities = new double[n * k];
        do
        {
            iteration++;
            double previous = lowerBound;
            lowerBound = ExpectationStep(data, n, d, k, type, weights, means, precisionsCholesky, responsibilities);
            (weights, means, covariances) = MaximizationStep(data, n, d, k, type, responsibilities, regCovar);
            precisionsCholesky = GmmLinearAlgebra.PrecisionCholeskyFromCovariances(type, covariances, k, d);
            history.Add(lowerBound);
            onIteration?.Invoke(iteration, lowerBound);
            converged = Math.Abs(lowerBound - previous) < tol;
        } while (iteration < maxIter && !converged);
        // scikit-learn ends with one more E-step only to store labels; it changes no parameter, so it is not needed here.

        return new GmmModel
        {
            CovarianceType = type, Components = k, Dimensions = d,
            Weights = weights, Means = means, Covariances = covariances, PrecisionsCholesky = precisionsCholesky,
            Converged = converged, NIter = iteration, LowerBound = lowerBound, LowerBoundHistory = history,
        };
    }

    /// <summary>Writes the posterior responsibilities (n x k, rows summing to one) into <paramref name="responsibilities"/>
    /// and returns the mean log-likelihood of the data under the given parameters.</summary>
    static double ExpectationStep(double[] data, int n, int d, int k, CovarianceType type,
        double[] weights, double[] means, double[] precisionsCholesky, double[] responsibilities)
    {
        double[] weighted = GmmLinearAlgebra.WeightedLogProb(data, n, d, k, type, weights, means, precisionsCholesky);
        double total = 0.0;
        for (int i = 0; i < n; i++)
        {
            double norm = GmmLinearAlgebra.LogSumExp(weighted, i * k, k);
            total += norm;
            for (int j = 0; j < k; j++) responsibilities[i * k + j] = Math.Exp(weighted[i * k + j] - norm);
        }
        return total / n;
    }

    /// <summary>The maximum-likelihood weights, means and covariances for fixed responsibilities, with
    /// <paramref name="regCovar"/> added to every variance. Each component's soft count is raised by 10 ε so that an
    /// empty component divides by a tiny number rather than zero (as scikit-learn does).</summary>
    static (double[] Weights, double[] Means, double[] Covariances) MaximizationStep(double[] data, int n, int d, int k,
        CovarianceType type, double[] responsibilities, double regCovar)
    {
        var counts = new double[k];
        for (int j = 0; j < k; j++)
        {
            double sum = 0.0;
            for (int i = 0; i < n; i++) sum += responsibilities[i * k + j];
            counts[j] = sum + 10.0 * MachineEpsilon;
        }

        double totalCount = counts.Sum();
        var weights = new double[k];
        for (int j = 0; j < k; j++) weights[j] = counts[j] / totalCount;

        var means = new double[k * d];
        for (int j = 0; j < k; j++)
        for (int c = 0; c < d; c++)
        {
            double sum = 0.0;
            for (int i = 0; i < n; i++) sum += responsibilities[i * k + j] * data[i * d + c];
            means[j * d + c] = sum / counts[j];
        }

        return (weights, means, Covariances(data, n, d, k, type, responsibilities, counts, totalCount, means, regCovar));
    }

    // Responsibility-weighted scatter about each component's mean, divided by that component's count (full, diag,
    // spherical) or pooled over components and divided by the total count (tied). Spherical is the diag variance
    // averaged over the d features.
    static double[] Covariances(double[] data, int n, int d, int k, CovarianceType type, double[] responsibilities,
        double[] counts, double totalCount, double[] means, double regCovar)
    {
        bool fullMatrix = type is CovarianceType.Full or CovarianceType.Tied;
        var scatter = new double[fullMatrix ? k * d * d : k * d];
        for (int j = 0; j < k; j++)
        for (int i = 0; i < n; i++)
        {
            double r = responsibilities[i * k + j];
            for (int a = 0; a < d; a++)
            {
                double da = data[i * d + a] - means[j * d + a];
                if (!fullMatrix)
                {
                    scatter[j * d + a] += r * da * da;
                    continue;
                }
                for (int b = 0; b < d; b++)
                    scatter[j * d * d + a * d + b] += r * da * (data[i * d + b] - means[j * d + b]);
            }
        }

        var result = new double[GmmShapes.CovarianceLength(type, k, d)];
        switch (type)
        {
            case CovarianceType.Full:
                for (int j = 0; j < k; j++)
                for (int e = 0; e < d * d; e++) result[j * d * d + e] = scatter[j * d * d + e] / counts[j];
                break;
            case CovarianceType.Tied:
                for (int j = 0; j < k; j++)
                for (int e = 0; e < d * d; e++) result[e] += scatter[j * d * d + e];
                for (int e = 0; e < d * d; e++) result[e] /= totalCount;
                break;
            case CovarianceType.Diag:
                for (int j = 0; j < k; j++)
                for (int c = 0; c < d; c++) result[j * d + c] = scatter[j * d + c] / counts[j];
                break;
            case CovarianceType.Spherical:
                for (int j = 0; j < k; j++)
                {
                    double sum = 0.0;
                    for (int c = 0; c < d; c++) sum += scatter[j * d + c] / counts[j] + regCovar;
                    result[j] = sum / d;
                }
                return result;
        }
        if (type == CovarianceType.Diag)
            for (int e = 0; e < result.Length; e++) result[e] += regCovar;
        else
            for (int m = 0; m < result.Length / (d * d); m++)
            for (int c = 0; c < d; c++) result[m * d * d + c * d + c] += regCovar;
        return result;
    }

    // The spacing of doubles at 1 (numpy's finfo(float64).eps); .NET's double.Epsilon is the smallest subnormal instead.
    const double MachineEpsilon = 2.220446049250313e-16;
}
