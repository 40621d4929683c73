namespace Hybrid.Core.Gpu;

/// <summary>How the components of a Gaussian mixture share and shape their covariance (scikit-learn's names).</summary>
public enum CovarianceType
{
    /// <summary>Each component has its own full d x d covariance.</summary>
    Full,
    /// <summary>All components share one full d x d covariance.</summary>
    Tied,
    /// <summary>Each component has its own diagonal covariance (d variances).</summary>
    Diag,
    /// <summary>Each component has a single variance shared by all d dimensions.</summary>
    Spherical,
}

/// <summary>Array sizes and free-parameter counts of a mixture, per covariance type.</summary>
internal static class GmmShapes
{
    /// <summary>Length of the flat covariance (and precision, and precision-Cholesky) array, row-major:
    /// full k x d x d, tied d x d, diag k x d, spherical k.</summary>
    public static int CovarianceLength(CovarianceType type, int k, int d) => type switch
    {
        CovarianceType.Full => k * d * d,
        CovarianceType.Tied => d * d,
        CovarianceType.Diag => k * d,
        CovarianceType.Spherical => k,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown covariance type"),
    };

    /// <summary>Free parameters of the model, as BIC and AIC count them: the covariance entries (a symmetric matrix
    /// has d(d+1)/2), the k x d means, and k - 1 weights (they sum to one).</summary>
    public static int FreeParameters(CovarianceType type, int k, int d)
    {
        int covariance = type switch
        {
            CovarianceType.Full => k * d * (d + 1) / 2,
            CovarianceType.Tied => d * (d + 1) / 2,
            CovarianceType.Diag => k * d,
            CovarianceType.Spherical => k,
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown covariance type"),
        };
        return covariance + k * d + (k - 1);
    }
}

/// <summary>The names scikit-learn gives the covariance types (its <c>covariance_type</c> argument).</summary>
public static class CovarianceTypeNames
{
    /// <summary>"full", "tied", "diag" or "spherical".</summary>
    public static string SklearnName(this CovarianceType type) => type switch
    {
        CovarianceType.Full => "full",
        CovarianceType.Tied => "tied",
        CovarianceType.Diag => "diag",
        CovarianceType.Spherical => "spherical",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown covariance type"),
    };
}
