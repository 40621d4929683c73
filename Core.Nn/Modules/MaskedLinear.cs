namespace Hybrid.Core.Nn.Modules;

/// <summary>A <see cref="Linear"/> that starts masked (SeaM's masked layer built directly): the effective weight is
/// weight * 1[weight_mask > 0] (and bias * 1[bias_mask > 0]); state keys <c>weight</c>, <c>bias</c>,
/// <c>weight_mask</c>, <c>bias_mask</c>. Any Linear can be masked in place with <see cref="MaskableLayer.EnableMask"/>.</summary>
public sealed class MaskedLinear : Linear
{
    /// <summary>The score every mask element starts from (SeaM initialises its scores to 1.0: all weights kept).</summary>
    public const double InitialScore = MaskScores.InitialScore;

    public MaskedLinear(int inFeatures, int outFeatures, bool bias = true, Generator? generator = null)
        : base(inFeatures, outFeatures, bias, generator) => EnableMask();

    /// <summary>A masked copy of <paramref name="linear"/>: same sizes, its weight and bias values, masks all kept.</summary>
    public static MaskedLinear From(Linear linear)
    {
        ArgumentNullException.ThrowIfNull(linear);
        var masked = new MaskedLinear(linear.InFeatures, linear.OutFeatures, linear.Bias is not null, new Generator(0));
        MaskScores.CopyValues(masked.Weight, masked.Bias, linear.Weight, linear.Bias);
        return masked;
    }
}
