namespace Hybrid.Core.Gpu;

/// <summary>The kernel that turns one layer's activations into its n x n Gram matrix.</summary>
public enum CkaKernel
{
    /// <summary>K = X Xᵀ: linear CKA, the form the similarity search indexes.</summary>
    Linear,
    /// <summary>K[i, j] = exp(-|x_i - x_j|² / (2 σ²)) with σ a fraction of the median distance between distinct
    /// probe inputs (<see cref="CkaOptions.SigmaFraction"/>).</summary>
    Rbf,
}

/// <summary>How CKA is computed (Kornblith et al. 2019; ALGORITHMS.md section 4).</summary>
public sealed record CkaOptions
{
    /// <summary>The default: linear kernel, biased HSIC.</summary>
    public static CkaOptions Default { get; } = new();

    /// <summary>Linear (default) or RBF.</summary>
    public CkaKernel Kernel { get; init; } = CkaKernel.Linear;

    /// <summary>RBF only: σ = SigmaFraction x the median Euclidean distance over the distinct pairs i &lt; j
    /// (Kornblith et al. count the zero self-distances too, giving a slightly smaller σ). Default 0.8.</summary>
    public double SigmaFraction { get; init; } = 0.8;

    /// <summary>Use the unbiased HSIC estimator of Song et al. (2012), which needs n &gt;= 4, instead of the biased
    /// &lt;HKH, HLH&gt;. Default false.</summary>
    public bool Debiased { get; init; }

    /// <summary>The fewest samples these options allow.</summary>
    internal int MinimumSamples => Debiased ? Maths.CkaMaths.MinExamplesDebiased : Maths.CkaMaths.MinExamples;

    /// <summary>Throws when the options cannot define a CKA.</summary>
    internal void Check(string operation)
    {
        if (!Enum.IsDefined(Kernel))
            throw new ArgumentException($"{operation}: unknown kernel {(int)Kernel}; expected Linear or Rbf", "options");
        if (Kernel == CkaKernel.Rbf && !(double.IsFinite(SigmaFraction) && SigmaFraction > 0))
            throw new ArgumentException(
                $"{operation}: SigmaFraction must be positive and finite, got {SigmaFraction}", "options");
    }
}
