namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>F.batch_norm over dimension 1 of (N, C, ...). In training, batch statistics normalise (biased variance) and
    /// the running statistics, when given, are updated in place with the unbiased variance:
    /// running = (1 - momentum) * running + momentum * batch. In evaluation the running statistics normalise.</summary>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, double momentum = 0.1, double eps = 1e-5) => throw new NotImplementedException("BatchNorm");

    /// <summary>F.layer_norm over the trailing dimensions given by <paramref name="normalizedShape"/>.</summary>
    public static Tensor LayerNorm(Tensor input, int[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5) =>
        throw new NotImplementedException("LayerNorm");
}
