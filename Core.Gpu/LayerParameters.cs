namespace Hybrid.Core.Gpu;

/// <summary>The parameters of a (masked) linear or conv2d layer. Effective weight w_eff = Weight * 1[WeightScores > 0];
/// effective bias b_eff = Bias * 1[BiasScores > 0]. A null score array means "not masked"; a null bias means "no bias".</summary>
public sealed record LayerParameters(
    DeviceArray<float> Weight,
    DeviceArray<float>? WeightScores = null,
    DeviceArray<float>? Bias = null,
    DeviceArray<float>? BiasScores = null);
