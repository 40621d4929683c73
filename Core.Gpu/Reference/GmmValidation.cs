namespace Hybrid.Core.Gpu.Reference;

/// <summary>Argument checks for the Gaussian-mixture reference. Each failure is an <see cref="ArgumentException"/>
/// that names the argument and, for data, the offending row, so that a bad input never surfaces later as NaN.</summary>
internal static class GmmValidation
{
    /// <summary>Every check <see cref="GaussianMixtureReference.Fit"/> makes before it starts EM.</summary>
    public static void CheckFitArguments(double[] data, int n, int d, int k, CovarianceType type,
        double[] weightsInit, double[] meansInit, double[] precisionsInit, double tol, double regCovar, int maxIter)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(weightsInit);
        ArgumentNullException.ThrowIfNull(meansInit);
        ArgumentNullException.ThrowIfNull(precisionsInit);
        if (!Enum.IsDefined(type))
            throw new ArgumentException($"type: {(int)type} is not a covariance type.", nameof(type));
        if (n < 1 || d < 1 || k < 1)
            throw new ArgumentException($"n ({n}), d ({d}) and k ({k}) must all be at least 1.", n < 1 ? nameof(n) : d < 1 ? nameof(d) : nameof(k));
        if ((long)n * d != data.Length)
            throw new ArgumentException($"data: length {data.Length} is not n x d = {n} x {d}.", nameof(data));
        if (!(tol >= 0.0) || double.IsInfinity(tol))
            throw new ArgumentException($"tol: {tol} must be finite and non-negative.", nameof(tol));
        if (!(regCovar >= 0.0) || double.IsInfinity(regCovar))
            throw new ArgumentException($"regCovar: {regCovar} must be finite and non-negative.", nameof(regCovar));
        if (maxIter < 1)
            throw new ArgumentException($"maxIter: {maxIter} must be at least 1.", nameof(maxIter));

        RequireFinite(data, n, d);
        int distinct = DistinctRows(data, n, d);
        if (k > distinct)
            throw new ArgumentException(
                $"k: {k} components need at least {k} distinct points, but data has only {distinct}.", nameof(k));

        RequireLength(weightsInit, k, $"k = {k}", nameof(weightsInit));
        RequireLength(meansInit, k * d, $"k x d = {k} x {d}", nameof(meansInit));
        RequireLength(precisionsInit, GmmShapes.CovarianceLength(type, k, d), $"the {type} precision shape", nameof(precisionsInit));
        RequireFiniteValues(meansInit, nameof(meansInit));
        RequireFiniteValues(precisionsInit, nameof(precisionsInit));

        double sum = 0.0;
        for (int j = 0; j < k; j++)
        {
            if (!(weightsInit[j] >= 0.0) || weightsInit[j] > 1.0)
                throw new ArgumentException($"weightsInit: entry {j} is {weightsInit[j]}; weights lie in [0, 1].", nameof(weightsInit));
            sum += weightsInit[j];
        }
        // The same tolerance scikit-learn allows: a sum off by rounding only.
        if (Math.Abs(sum - 1.0) > 1e-8)
            throw new ArgumentException($"weightsInit: the weights sum to {sum:R}, not 1.", nameof(weightsInit));
    }

    /// <summary>Throws when any value of the n x d data is NaN or infinite, naming the first such row.</summary>
    public static void RequireFinite(double[] data, int n, int d)
    {
        for (int i = 0; i < n; i++)
        for (int c = 0; c < d; c++)
            if (!double.IsFinite(data[i * d + c]))
                throw new ArgumentException(
                    $"data: row {i}, column {c} is {data[i * d + c]}; every value must be finite.", nameof(data));
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

    static int DistinctRows(double[] data, int n, int d)
    {
        var seen = new HashSet<double[]>(RowComparer.Instance);
        for (int i = 0; i < n; i++) seen.Add(data.AsSpan(i * d, d).ToArray());
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
