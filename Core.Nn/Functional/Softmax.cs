namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>exp(x) / sum exp(x) along <paramref name="dim"/>, computed with the max subtracted.</summary>
    public static Tensor Softmax(Tensor input, int dim) => throw new NotImplementedException("Softmax");

    /// <summary>x - logsumexp(x) along <paramref name="dim"/>.</summary>
    public static Tensor LogSoftmax(Tensor input, int dim) => throw new NotImplementedException("LogSoftmax");
}
