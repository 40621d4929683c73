namespace Hybrid.Core.Gpu;

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
