namespace Hybrid.Core.Nn.Modules;

/// <summary>What the two SeaM masked layers (<see cref="MaskedLinear"/>, <see cref="MaskedConv2d"/>) do alike: fresh
/// mask scores and the copy of an unmasked layer's values.</summary>
internal static class MaskScores
{
    /// <summary>Scores of <paramref name="like"/>'s shape, all <see cref="MaskedLinear.InitialScore"/> (every weight
    /// kept); null when there is no tensor to mask.</summary>
    internal static Tensor? Initial(Tensor? like) =>
        like is null ? null : Tensor.Full(MaskedLinear.InitialScore, ScalarType.Float32, null, like.Shape);

    /// <summary>Copies an unmasked layer's weight and bias values into a masked copy's, recording nothing.</summary>
    internal static void CopyValues(Tensor weight, Tensor? bias, Tensor fromWeight, Tensor? fromBias)
    {
        using (Autograd.NoGrad())
        {
            weight.CopyFrom(fromWeight);
            if (fromBias is not null) bias!.CopyFrom(fromBias);
        }
    }
}
