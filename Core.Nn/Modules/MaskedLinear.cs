namespace Hybrid.Core.Nn.Modules;

/// <summary>A <see cref="Linear"/> whose effective weight is weight * 1[weight_mask > 0] (and bias * 1[bias_mask > 0]):
/// SeaM's masked layer. State keys <c>weight</c>, <c>bias</c>, <c>weight_mask</c>, <c>bias_mask</c>.</summary>
public sealed class MaskedLinear : Linear
{
    /// <summary>The score every mask element starts from (SeaM initialises its scores to 1.0: all weights kept).</summary>
    public const double InitialScore = 1.0;

    public MaskedLinear(int inFeatures, int outFeatures, bool bias = true, Generator? generator = null)
        : base(inFeatures, outFeatures, bias, generator)
    {
        RegisterParameter("weight_mask", MaskScores.Initial(Weight));
        RegisterParameter("bias_mask", MaskScores.Initial(Bias));
    }

    /// <summary>A masked copy of <paramref name="linear"/>: same sizes, its weight and bias values, masks all kept.</summary>
    public static MaskedLinear From(Linear linear)
    {
        ArgumentNullException.ThrowIfNull(linear);
        var masked = new MaskedLinear(linear.InFeatures, linear.OutFeatures, linear.Bias is not null, new Generator(0));
        MaskScores.CopyValues(masked.Weight, masked.Bias, linear.Weight, linear.Bias);
        return masked;
    }

    /// <summary>The mask scores of the weight (same shape).</summary>
    public Tensor WeightMask => Parameter("weight_mask")!;

    /// <summary>The mask scores of the bias, or null without bias.</summary>
    public Tensor? BiasMask => Parameter("bias_mask");

    /// <summary>How gradients reach the mask scores; SeaM's clipped straight-through estimator by default.</summary>
    public Gpu.MaskGradient Rule { get; set; } = Gpu.MaskGradient.ClippedStraightThrough;

    public override Tensor Forward(Tensor input) => Functional.MaskedLinear(input, Weight, WeightMask, Bias, BiasMask, Rule);
}
