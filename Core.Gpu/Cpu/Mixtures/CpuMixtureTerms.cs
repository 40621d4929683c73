using Hybrid.Core.Gpu.Maths;

namespace Hybrid.Core.Gpu.Cpu;

/// <summary>One pass's parameters in the form the Cpu block loops read, in the coordinates of the centred data
/// (x - c, with c the data's column means: a shift that leaves every density and moment unchanged and keeps the
/// differences x U - μ U of the matrix form free of cancellation when the data sit far from the origin). Shifts are the
/// per-component shifts s - c of the accumulated moments (k x d).</summary>
internal sealed record CpuMixtureTerms(CovarianceType Type, int Components, int Dimensions, double[] Shifts)
{
    public bool Matrix => Type is CovarianceType.Full or CovarianceType.Tied;

    /// <summary>log wⱼ + log det Uⱼ - ½ d log 2π (k); empty when only accumulating.</summary>
    public double[] Constants { get; private init; } = [];

    /// <summary>Full: every component's factor side by side, d x (k d), so that one product X [U₁ … Uₖ] serves all;
    /// tied: the shared d x d factor; empty for diag and spherical, whose factors live in <see cref="Quadratic"/>.</summary>
    public double[] Factors { get; private init; } = [];

    /// <summary>Full with AVX-512: the factors and centres as <see cref="MixtureWhitening"/> reads them; else null.</summary>
    public MixtureWhitening.Layout? Whitening { get; private init; }

    /// <summary>Full and tied: (μⱼ - c) Uⱼ (k x d), subtracted from the product x Uⱼ; empty for diag and spherical.</summary>
    public double[] Centres { get; private init; } = [];

    /// <summary>Diag and spherical: the matrix Q (columns x k) with log wⱼ + log N(x | j) = z Q for the row z of
    /// x's extended columns (<see cref="MixtureRows.Columns"/>), from ‖x u - μu‖² = Σ x² u² - 2 x μu u + (μu)²: diag reads
    /// [x², x, 1], spherical, whose u is one number per component, [x, 1, ‖x‖²]; else empty.</summary>
    public double[] Quadratic { get; private init; } = [];

    /// <summary>With AVX-512, Q as <see cref="MixtureProducts.Densities"/> reads it (rows padded to whole pairs of
    /// vectors): diag and spherical <see cref="Quadratic"/>, full the Q of its outer rows (<see cref="MixtureOuterRows"/>,
    /// which only the sliced pass reads); else empty.</summary>
    public double[] QuadraticTiles { get; private init; } = [];

    /// <summary>Only the shifts: for accumulating given responsibilities.</summary>
    public static CpuMixtureTerms ForAccumulation(CovarianceType type, int k, double[] centre, double[] shifts) =>
        new(type, k, centre.Length, Centred(shifts, centre, k));

    /// <summary>Everything a pass with <paramref name="p"/> needs; its shifts are the means.</summary>
    public static CpuMixtureTerms ForPass(MixtureParameters p, double[] centre)
    {
        int k = p.Components, d = p.Dimensions;
        double[] means = Centred(p.Means, centre, k);
        double[] u = p.PrecisionsCholesky;
        var constants = new double[k];
        for (int j = 0; j < k; j++) constants[j] = Math.Log(p.Weights[j])
            + GmmLinearAlgebra.LogDetPrecisionCholesky(p.Type, u, j, d) - 0.5 * d * GmmLinearAlgebra.Log2Pi;

        if (p.Type is CovarianceType.Diag or CovarianceType.Spherical)
        {
            double[] quadratic = QuadraticOf(p.Type, u, means, constants, k, d);
            return new CpuMixtureTerms(p.Type, k, d, means)
            {
                Constants = constants,
                Quadratic = quadratic,
                QuadraticTiles = MixtureProducts.Supported
                    ? MixtureProducts.Padded(quadratic, MixtureRows.Columns(p.Type, d).Count, k)
                    : [],
            };
        }
        double[] factors, centres;
        if (p.Type == CovarianceType.Full)
        {
            factors = new double[d * k * d];
            for (int j = 0; j < k; j++)
                for (int a = 0; a < d; a++)
                    Array.Copy(u, (j * d + a) * d, factors, a * k * d + j * d, d);
            centres = Project(means, u, k, d, shared: false);
        }
        else
        {
            factors = u;
            centres = Project(means, u, k, d, shared: true);
        }
        bool full = p.Type == CovarianceType.Full;
        return new CpuMixtureTerms(p.Type, k, d, means)
        {
            Constants = constants,
            Factors = factors,
            Centres = centres,
            Whitening = full && MixtureWhitening.Supported ? MixtureWhitening.Prepare(u, centres, k, d) : null,
            QuadraticTiles = full && MixtureProducts.Supported
                ? MixtureProducts.Padded(OuterOf(u, centres, constants, k, d), MixtureOuterRows.Width(d), k)
                : [],
        };
    }

    // Full, against the rows of MixtureOuterRows: ‖(x - μ)U‖² = xᵀPx - 2 xᵀPμ + ‖μU‖² with P = UUᵀ, so column j holds
    // -Pₐ_b (a < b: the product stands once for both halves of P) and -½Pₐₐ against xₐx_b, Pμ = U(μU)ᵀ against x, and
    // log wⱼ + log det Uⱼ - ½ d log 2π - ½ ‖μⱼUⱼ‖² against 1. projected holds the rows μⱼUⱼ.
    static double[] OuterOf(double[] u, double[] projected, double[] constants, int k, int d)
    {
        int triangle = MixtureOuterRows.Triangle(d);
        int[] indices = MixtureOuterRows.Indices(d);
        var q = new double[MixtureOuterRows.Width(d) * k];
        for (int j = 0; j < k; j++)
        {
            int factor = j * d * d;
            for (int a = 0; a < d; a++)
            {
                for (int b = a; b < d; b++)
                {
                    double pab = 0.0;
                    for (int c = 0; c < d; c++) pab += u[factor + a * d + c] * u[factor + b * d + c];
                    q[indices[a * d + b] * k + j] = a == b ? -0.5 * pab : -pab;
                }
                double centre = 0.0;
                for (int c = 0; c < d; c++) centre += u[factor + a * d + c] * projected[j * d + c];
                q[(triangle + a) * k + j] = centre;
            }
            double constant = constants[j];
            for (int c = 0; c < d; c++) constant -= 0.5 * projected[j * d + c] * projected[j * d + c];
            q[(triangle + d) * k + j] = constant;
        }
        return q;
    }

    // Column j: -½ uⱼ² against x² (diag, per feature) or ‖x‖² (spherical), μⱼuⱼ ∘ uⱼ against x, and
    // log wⱼ + log det Uⱼ - ½ d log 2π - ½ ‖μⱼuⱼ‖² against 1; u is k x d for diag, one number per component for spherical.
    static double[] QuadraticOf(CovarianceType type, double[] u, double[] means, double[] constants, int k, int d)
    {
        bool spherical = type == CovarianceType.Spherical;
        var q = new double[MixtureRows.Columns(type, d).Count * k];
        // Rows of Q: where x, 1 and the squares stand among the columns the type reads.
        int first = spherical ? 0 : d, ones = spherical ? d : 2 * d;
        for (int j = 0; j < k; j++)
        {
            double constant = constants[j];
            for (int a = 0; a < d; a++)
            {
                double factor = spherical ? u[j] : u[j * d + a], c = means[j * d + a] * factor;
                if (!spherical) q[a * k + j] = -0.5 * factor * factor;
                q[(first + a) * k + j] = c * factor;
                constant -= 0.5 * c * c;
            }
            q[ones * k + j] = constant;
            if (spherical) q[(d + 1) * k + j] = -0.5 * u[j] * u[j];
        }
        return q;
    }

    static double[] Centred(double[] points, double[] centre, int k)
    {
        int d = centre.Length;
        var result = new double[k * d];
        for (int j = 0; j < k; j++)
            for (int a = 0; a < d; a++) result[j * d + a] = points[j * d + a] - centre[a];
        return result;
    }

    // Rows of (μⱼ - c) Uⱼ; the factor is read as a dense matrix, upper or lower triangular alike.
    static double[] Project(double[] means, double[] u, int k, int d, bool shared)
    {
        var result = new double[k * d];
        for (int j = 0; j < k; j++)
        {
            int offset = shared ? 0 : j * d * d;
            for (int a = 0; a < d; a++)
                for (int b = 0; b < d; b++) result[j * d + b] += means[j * d + a] * u[offset + a * d + b];
        }
        return result;
    }
}
