namespace Hybrid.Core.Gpu;

/// <summary>Argument checks of the Gaussian-mixture API. Each failure is an <see cref="ArgumentException"/> that names
/// the argument and, for data, the offending row and column, so that a bad input never surfaces later as NaN.</summary>
internal static class GmmValidation
{
    /// <summary>Every check <see cref="GaussianMixture.Fit"/> makes before it starts work. The positive definiteness of
    /// a given precision is checked where its Cholesky factor is taken.</summary>
    public static void CheckFit(double[] data, int n, int d, GaussianMixtureOptions options, GaussianMixtureModel? warmStart)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        if (n < 1 || d < 1)
            throw new ArgumentException($"n ({n}) and d ({d}) must both be at least 1.", n < 1 ? nameof(n) : nameof(d));
        if ((long)n * d != data.Length)
            throw new ArgumentException($"data: length {data.Length} is not n x d = {n} x {d}.", nameof(data));
        CheckOptions(options);

        int k = options.Components;
        RequireFinite(data, n, d);
        int distinct = DistinctRows(data, n, d, k);
        if (k > distinct)
            throw new ArgumentException(
                $"options.Components: {k} components need at least {k} distinct points, but data has only {distinct}.",
                nameof(options));
        if (options.RegCovar == 0.0) RequireVariation(data, n, d);

        if (options.WeightsInit is { } weights) CheckWeights(weights, k);
        if (options.MeansInit is { } means)
        {
            RequireLength(means, k * d, $"k x d = {k} x {d}", "options.MeansInit");
            RequireFiniteValues(means, "options.MeansInit");
        }
        if (options.PrecisionsInit is { } precisions)
        {
            RequireLength(precisions, GmmShapes.CovarianceLength(options.Covariance, k, d),
                $"the {options.Covariance} precision shape for k = {k}, d = {d}", "options.PrecisionsInit");
            RequireFiniteValues(precisions, "options.PrecisionsInit");
        }
        if (warmStart is not null
            && (warmStart.CovarianceType != options.Covariance || warmStart.Components != k || warmStart.Dimensions != d))
            throw new ArgumentException(
                $"warmStart: a {warmStart.CovarianceType} model of {warmStart.Components} components in " +
                $"{warmStart.Dimensions} dimensions cannot start a {options.Covariance} fit of {k} components in {d}.",
                nameof(warmStart));
    }

    static void CheckOptions(GaussianMixtureOptions o)
    {
        void Fail(string what) => throw new ArgumentException($"options.{what}", "options");
        if (!Enum.IsDefined(o.Covariance)) Fail($"Covariance: {(int)o.Covariance} is not a covariance type.");
        if (!Enum.IsDefined(o.Init)) Fail($"Init: {(int)o.Init} is not an initialisation method.");
        if (o.Components < 1) Fail($"Components: {o.Components} must be at least 1.");
        if (o.NInit < 1) Fail($"NInit: {o.NInit} must be at least 1.");
        if (o.MaxIter < 1) Fail($"MaxIter: {o.MaxIter} must be at least 1.");
        if (!(o.Tol >= 0.0) || double.IsInfinity(o.Tol)) Fail($"Tol: {o.Tol} must be finite and non-negative.");
        if (!(o.RegCovar >= 0.0) || double.IsInfinity(o.RegCovar))
            Fail($"RegCovar: {o.RegCovar} must be finite and non-negative.");
    }

    static void CheckWeights(double[] weights, int k)
    {
        const string name = "options.WeightsInit";
        RequireLength(weights, k, $"k = {k}", name);
        double sum = 0.0;
        for (int j = 0; j < k; j++)
        {
            if (!(weights[j] >= 0.0) || weights[j] > 1.0)
                throw new ArgumentException($"{name}: entry {j} is {weights[j]}; weights lie in [0, 1].", name);
            sum += weights[j];
        }
        // The same tolerance scikit-learn allows: a sum off by rounding only.
        if (Math.Abs(sum - 1.0) > 1e-8)
            throw new ArgumentException($"{name}: the weights sum to {sum:R}, not 1.", name);
    }

    /// <summary>Throws when any value of the n x d data is NaN or infinite, naming the first such row and column.</summary>
    public static void RequireFinite(double[] data, int n, int d)
    {
        for (int i = 0; i < n; i++)
            for (int c = 0; c < d; c++)
                if (!double.IsFinite(data[i * d + c]))
                    throw new ArgumentException(
                        $"data: row {i}, column {c} is {data[i * d + c]}; every value must be finite.", nameof(data));
    }

    // Without reg_covar a dimension in which every row has the same value has zero variance in every component, so no
    // covariance can be positive definite: say so before EM rather than after it.
    static void RequireVariation(double[] data, int n, int d)
    {
        for (int c = 0; c < d; c++)
        {
            int i = 1;
            while (i < n && data[i * d + c] == data[c]) i++;
            if (i == n)
                throw new ArgumentException(
                    $"data: column {c} is constant ({data[c]}), so its variance is 0 in every component; with " +
                    "options.RegCovar = 0 no covariance is positive definite. Use RegCovar > 0 (the default 1e-6 " +
                    "regularises such dimensions) or drop the column.", nameof(data));
        }
    }

    static void RequireFiniteValues(double[] values, string name)
    {
        for (int i = 0; i < values.Length; i++)
            if (!double.IsFinite(values[i]))
                throw new ArgumentException($"{name}: entry {i} is {values[i]}; every value must be finite.", name);
    }

    static void RequireLength(double[] values, int expected, string shape, string name)
    {
        if (values.Length != expected)
            throw new ArgumentException($"{name}: length {values.Length} does not match {shape} ({expected} values).", name);
    }

    /// <summary>The number of distinct rows, counted up to <paramref name="enough"/> (the scan stops there).</summary>
    static int DistinctRows(double[] data, int n, int d, int enough)
    {
        var seen = new HashSet<double[]>(RowComparer.Instance);
        for (int i = 0; i < n && seen.Count < enough; i++) seen.Add(data.AsSpan(i * d, d).ToArray());
        return seen.Count;
    }

    // Rows compare by value; double.Equals and GetHashCode treat 0.0 and -0.0 as one value, as == does.
    sealed class RowComparer : IEqualityComparer<double[]>
    {
        public static readonly RowComparer Instance = new();

        public bool Equals(double[]? x, double[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(double[] row)
        {
            var hash = new HashCode();
            foreach (double v in row) hash.Add(v);
            return hash.ToHashCode();
        }
    }
}
