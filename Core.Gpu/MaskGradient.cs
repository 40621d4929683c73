namespace Hybrid.Core.Gpu;

/// <summary>How the gradient of a mask score is formed from dL/dw_eff * w (the straight-through estimator).</summary>
public enum MaskGradient
{
    /// <summary>dL/ds = dL/dw_eff * w.</summary>
    StraightThrough,
    /// <summary>SeaM's rule: dL/ds = clip(dL/dw_eff * w, -1, 1) (hardtanh of the binarised mask's gradient).</summary>
    ClippedStraightThrough,
}
