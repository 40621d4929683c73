namespace Hybrid.Core.Gpu;

/// <summary>The parameters of a (masked) linear or conv2d layer. Effective weight w_eff = Weight * 1[WeightScores > 0];
/// effective bias b_eff = Bias * 1[BiasScores > 0]. A null score array means "not masked"; a null bias means "no bias".</summary>
public sealed record LayerParameters(
    DeviceArray<float> Weight,
    DeviceArray<float>? WeightScores = null,
    DeviceArray<float>? Bias = null,
    DeviceArray<float>? BiasScores = null);

/// <summary>How the gradient of a mask score is formed from dL/dw_eff * w (the straight-through estimator).</summary>
public enum MaskGradient
{
    /// <summary>dL/ds = dL/dw_eff * w.</summary>
    StraightThrough,
    /// <summary>SeaM's rule: dL/ds = clip(dL/dw_eff * w, -1, 1) (hardtanh of the binarised mask's gradient).</summary>
    ClippedStraightThrough,
}

/// <summary>Where a backward pass writes its gradients. Each output is optional: a null array is not computed.
/// Every non-null array is overwritten (not accumulated into).</summary>
public sealed record LayerGradients(
    DeviceArray<float>? Input = null,
    DeviceArray<float>? EffectiveWeight = null,
    DeviceArray<float>? WeightScores = null,
    DeviceArray<float>? Weight = null,
    DeviceArray<float>? Bias = null,
    DeviceArray<float>? BiasScores = null,
    MaskGradient MaskRule = MaskGradient.StraightThrough);
