namespace Hybrid.Core.Nn.Modules;

/// <summary>What the maskable layers (<see cref="Linear"/>, <see cref="Conv2d"/>) do alike: fresh SeaM mask scores,
/// the effective (masked) weight and bias, and the copy of one layer's values into another.</summary>
internal static class MaskScores
{
    /// <summary>The score every mask element starts from (SeaM initialises its scores to 1.0: all weights kept).</summary>
    internal const double InitialScore = 1.0;

    /// <summary>Scores of <paramref name="like"/>'s shape, all <see cref="InitialScore"/> (every weight kept); null when
    /// there is no tensor to mask.</summary>
    internal static Tensor? Initial(Tensor? like) =>
        like is null ? null : Tensor.Full(InitialScore, ScalarType.Float32, like.Device, like.Shape);

    /// <summary>value * 1[scores > 0] as a new float32 array (value itself, copied, when unmasked).</summary>
    internal static float[] Effective(Tensor value, Tensor? scores)
    {
        var v = value.ToArray<float>();
        if (scores is null) return v;
        var s = scores.Span<float>();
        for (int i = 0; i < v.Length; i++)
            if (!(s[i] > 0f)) v[i] = 0f;
        return v;
    }

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
