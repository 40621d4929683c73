namespace Hybrid.Core.Gpu.Maths;

/// <summary>The dense linear algebra every Gaussian-mixture backend shares: Cholesky factors, triangular inverses, the
/// log-determinant of a precision's Cholesky factor and a stable log-sum-exp.
/// All matrices are flat row-major float64 arrays; a stack of matrices is consecutive d x d blocks.</summary>
internal static class GmmLinearAlgebra
{
    /// <summary>log 2π, as every backend's log-density uses it.</summary>
    public static readonly double Log2Pi = Math.Log(2.0 * Math.PI);

    /// <summary>Lower-triangular L with L Lᵀ = A for the d x d block of <paramref name="a"/> at
    /// <paramref name="offset"/>, written into <paramref name="l"/> at the same offset. Returns false when A is not
    /// (numerically) positive definite, i.e. a pivot is not strictly positive or not finite.</summary>
    public static bool TryCholeskyLower(double[] a, int offset, int d, double[] l)
    {
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++)
            {
                double sum = a[offset + i * d + j];
                for (int p = 0; p < j; p++) sum -= l[offset + i * d + p] * l[offset + j * d + p];
                if (i == j)
                {
                    if (!(sum > 0.0) || double.IsInfinity(sum)) return false;
                    l[offset + i * d + i] = Math.Sqrt(sum);
                }
                else
                {
                    l[offset + i * d + j] = sum / l[offset + j * d + j];
                }
            }
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j < d; j++) l[offset + i * d + j] = 0.0;
        return true;
    }

    /// <summary>The inverse of the lower-triangular block at <paramref name="offset"/>, by forward substitution
    /// column by column (L X = I); the result is lower triangular.</summary>
    public static void InvertLowerTriangular(double[] l, int offset, int d, double[] inverse)
    {
        for (int col = 0; col < d; col++)
            for (int i = 0; i < d; i++)
            {
                if (i < col)
                {
                    inverse[offset + i * d + col] = 0.0;
                    continue;
                }
                double sum = i == col ? 1.0 : 0.0;
                for (int p = col; p < i; p++) sum -= l[offset + i * d + p] * inverse[offset + p * d + col];
                inverse[offset + i * d + col] = sum / l[offset + i * d + i];
            }
    }

    /// <summary>Cholesky factors U of the precisions (U Uᵀ = Σ⁻¹) from covariances Σ, as scikit-learn's
    /// <c>precisions_cholesky_</c>: for full and tied, Σ = C Cᵀ and U = (C⁻¹)ᵀ (upper triangular); for diag and
    /// spherical, U = 1/√σ². A covariance that is not positive definite (a component collapsed onto too few distinct
    /// points) is reported instead of producing NaN.</summary>
    public static double[] PrecisionCholeskyFromCovariances(CovarianceType type, double[] covariances, int k, int d)
    {
        var result = new double[covariances.Length];
        if (type is CovarianceType.Full or CovarianceType.Tied)
        {
            int matrices = type == CovarianceType.Full ? k : 1;
            var factor = new double[covariances.Length];
            var inverse = new double[covariances.Length];
            for (int m = 0; m < matrices; m++)
            {
                int offset = m * d * d;
                if (!TryCholeskyLower(covariances, offset, d, factor)) throw IllDefinedCovariance(type, m);
                InvertLowerTriangular(factor, offset, d, inverse);
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < d; j++) result[offset + i * d + j] = inverse[offset + j * d + i];
            }
            return result;
        }
        for (int i = 0; i < covariances.Length; i++)
        {
            if (!(covariances[i] > 0.0) || double.IsInfinity(covariances[i]))
                throw IllDefinedCovariance(type, type == CovarianceType.Diag ? i / d : i);
            result[i] = 1.0 / Math.Sqrt(covariances[i]);
        }
        return result;
    }

    /// <summary>Cholesky factors L of given precisions P (L Lᵀ = P): lower triangular for full and tied, √p for diag
    /// and spherical. Any L with L Lᵀ = P serves the log-density, so this one needs no inverse.</summary>
    /// <exception cref="ArgumentException">A precision is not symmetric positive definite.</exception>
    public static double[] PrecisionCholeskyFromPrecisions(CovarianceType type, double[] precisions, int k, int d)
    {
        var result = new double[precisions.Length];
        if (type is CovarianceType.Full or CovarianceType.Tied)
        {
            int matrices = type == CovarianceType.Full ? k : 1;
            for (int m = 0; m < matrices; m++)
            {
                int offset = m * d * d;
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < i; j++)
                    {
                        double a = precisions[offset + i * d + j], b = precisions[offset + j * d + i];
                        if (Math.Abs(a - b) > 1e-10 * Math.Max(1.0, Math.Max(Math.Abs(a), Math.Abs(b))))
                            throw new ArgumentException(
                                $"precisionsInit: matrix {m} is not symmetric (entries [{i},{j}] = {a} and [{j},{i}] = {b}).",
                                "precisionsInit");
                    }
                if (!TryCholeskyLower(precisions, offset, d, result))
                    throw new ArgumentException(
                        $"precisionsInit: matrix {m} is not positive definite.", "precisionsInit");
            }
            return result;
        }
        for (int i = 0; i < precisions.Length; i++)
        {
            if (!(precisions[i] > 0.0) || double.IsInfinity(precisions[i]))
                throw new ArgumentException(
                    $"precisionsInit: entry {i} is {precisions[i]}; {type} precisions must be positive and finite.",
                    "precisionsInit");
            result[i] = Math.Sqrt(precisions[i]);
        }
        return result;
    }

    /// <summary>log Σ exp(values[offset .. offset+count)), shifted by the maximum so that no term overflows;
    /// -∞ when every term is -∞.</summary>
    public static double LogSumExp(double[] values, int offset, int count)
    {
        double max = double.NegativeInfinity;
        for (int j = 0; j < count; j++) max = Math.Max(max, values[offset + j]);
        if (double.IsNegativeInfinity(max)) return max;
        double sum = 0.0;
        for (int j = 0; j < count; j++) sum += Math.Exp(values[offset + j] - max);
        return max + Math.Log(sum);
    }

    /// <summary>log det U of component <paramref name="component"/>'s precision factor: the sum of the logs of its
    /// diagonal (full, tied: the one shared matrix; diag; spherical: d log u).</summary>
    public static double LogDetPrecisionCholesky(CovarianceType type, double[] u, int component, int d)
    {
        double sum = 0.0;
        switch (type)
        {
            case CovarianceType.Full:
                for (int c = 0; c < d; c++) sum += Math.Log(u[component * d * d + c * d + c]);
                return sum;
            case CovarianceType.Tied:
                for (int c = 0; c < d; c++) sum += Math.Log(u[c * d + c]);
                return sum;
            case CovarianceType.Diag:
                for (int c = 0; c < d; c++) sum += Math.Log(u[component * d + c]);
                return sum;
            default:
                return d * Math.Log(u[component]);
        }
    }

    static ArgumentException IllDefinedCovariance(CovarianceType type, int component) => new(
        "Gaussian mixture: " + (type == CovarianceType.Tied ? "the shared (tied) covariance" : $"the {type} covariance of component {component}") +
        " is not positive definite (a component " +
        "collapsed onto too few distinct points, or the data are degenerate). Use fewer components or a larger " +
        "reg_covar.", "regCovar");
}
