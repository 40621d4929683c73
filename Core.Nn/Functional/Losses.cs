namespace Hybrid.Core.Nn;

/// <summary>How a loss combines its per-sample values.</summary>
public enum Reduction { Mean, Sum, None }

public static partial class Functional
{
    /// <summary>F.cross_entropy: logits (N, C), int64 targets (N) in [0, C); label smoothing as in PyTorch 1.10+.</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor target, Reduction reduction = Reduction.Mean, double labelSmoothing = 0) =>
        throw new NotImplementedException("CrossEntropy");

    /// <summary>F.dropout: in training, zeroes each element with probability p and scales the rest by 1/(1-p); identity
    /// otherwise. The mask comes from <paramref name="generator"/>.</summary>
    public static Tensor Dropout(Tensor input, double p, bool training, Generator generator) => throw new NotImplementedException("Dropout");
}
