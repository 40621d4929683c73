namespace Hybrid.Core.Gpu;

/// <summary>What masked layers share behind their entry points: the effective weight and bias (value * 1[scores > 0]) that
/// the kernels run on, and the gradients of weights, biases and mask scores derived from the kernels' gradients with
/// respect to those effective values.</summary>
internal static class EffectiveParameters
{
    /// <summary>Runs <paramref name="forward"/> on the effective weight and bias (the parameters themselves when unmasked,
    /// else temporary arrays value * 1[scores > 0]).</summary>
    public static void Forward(LayerParameters p, Action<DeviceArray<float>, DeviceArray<float>?> forward)
    {
        using var weight = new EffectiveValue(p.Weight, p.WeightScores);
        using var bias = new EffectiveValue(p.Bias, p.BiasScores);
        forward(weight.Value!, bias.Value);
    }

    /// <summary>Runs <paramref name="backward"/> (given the effective weight, it fills dL/dw_eff and dL/db_eff) and derives the
    /// requested weight, score and bias gradients from them. Unmasked tensors have no scores: their gradient is the effective one.</summary>
    public static void Backward(LayerParameters p, LayerGradients g,
        Action<DeviceArray<float>, DeviceArray<float>?, DeviceArray<float>?> backward)
    {
        var device = p.Weight.Device;
        using var weightEff = new EffectiveValue(p.Weight, p.WeightScores);
        using var weight = new EffectiveGradient(device, p.Weight, p.WeightScores, g.EffectiveWeight, g.Weight, g.WeightScores, g.MaskRule);
        using var bias = new EffectiveGradient(device, p.Bias, p.BiasScores, null, g.Bias, g.BiasScores, g.MaskRule);
        backward(weightEff.Value!, weight.Target, bias.Target);
        weight.Derive();
        bias.Derive();
    }

    /// <summary>value * 1[scores > 0] in a temporary array, or the value itself when unmasked (or absent).</summary>
    readonly struct EffectiveValue : IDisposable
    {
        readonly bool owned;

        public EffectiveValue(DeviceArray<float>? value, DeviceArray<float>? scores)
        {
            Value = value;
            if (value is null || scores is null) return;
            Value = value.Device.Allocate<float>(value.Length);
            value.Device.Kernels.ApplyMask(value, scores, Value);
            owned = true;
        }

        public DeviceArray<float>? Value { get; }

        public void Dispose()
        {
            if (owned) Value!.Dispose();
        }
    }

    /// <summary>The array that receives dL/d(effective) for one tensor, and the derivation of the requested gradients from it.</summary>
    sealed class EffectiveGradient : IDisposable
    {
        readonly Device device;
        readonly DeviceArray<float>? value, scores, gradEffective, gradValue, gradScores;
        readonly MaskGradient rule;
        readonly bool owned;

        public EffectiveGradient(Device device, DeviceArray<float>? value, DeviceArray<float>? scores, DeviceArray<float>? gradEffective,
            DeviceArray<float>? gradValue, DeviceArray<float>? gradScores, MaskGradient rule)
        {
            (this.device, this.value, this.scores, this.gradEffective, this.gradValue, this.gradScores, this.rule) =
                (device, value, scores, gradEffective, gradValue, gradScores, rule);
            bool needed = gradEffective is not null || gradValue is not null || gradScores is not null;
            // Unmasked: dL/dvalue is dL/d(effective), so it can be written straight into the caller's array.
            Target = !needed ? null : gradEffective ?? (scores is null ? gradValue : null);
            if (needed && Target is null)
            {
                Target = device.Allocate<float>(value!.Length);
                owned = true;
            }
        }

        public DeviceArray<float>? Target { get; }

        public void Derive()
        {
            if (Target is null) return;
            if (scores is null)
            {
                if (gradValue is not null && !ReferenceEquals(gradValue, Target)) device.Kernels.Copy(Target, gradValue);
                return;
            }
            if (gradScores is not null || gradValue is not null)
                device.Kernels.MaskGradients(Target, value!, scores, gradScores, gradValue, rule);
        }

        public void Dispose()
        {
            if (owned) Target!.Dispose();
        }
    }
}
