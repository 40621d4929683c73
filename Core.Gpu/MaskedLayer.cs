namespace Hybrid.Core.Gpu;

/// <summary>What masked linear and masked conv2d share: validating parameters, forming effective weights, and turning
/// gradients with respect to effective weights into gradients of weights, biases and their mask scores.</summary>
internal static class MaskedLayer
{
    /// <summary>Checks a forward pass (input, parameters, output on one device) and runs <paramref name="run"/>(device,
    /// effective weight, effective bias) unless the output is empty.</summary>
    public static void Forward(LayerSizes n, object shape, LayerParameters p, DeviceArray<float> x, DeviceArray<float> y,
        Action<Device, DeviceArray<float>, DeviceArray<float>?> run)
    {
        var device = CheckInputs(n, shape, p, x);
        Validate.Array(y, "output", n.Output, device, shape);
        if (n.Output == 0) return;
        Forward(p, (weight, bias) => run(device, weight, bias));
    }

    /// <summary>Checks a backward pass and runs <paramref name="run"/>(device, effective weight, dL/dw_eff, dL/db_eff),
    /// deriving the requested gradients of <paramref name="g"/> from it.</summary>
    public static void Backward(LayerSizes n, object shape, LayerParameters p, DeviceArray<float> x, DeviceArray<float> gradOut,
        LayerGradients g, Action<Device, DeviceArray<float>, DeviceArray<float>?, DeviceArray<float>?> run)
    {
        var device = CheckInputs(n, shape, p, x);
        Validate.Array(gradOut, "output gradient", n.Output, device, shape);
        ValidateGradients(p, g, n.Input, n.Weight, n.Bias, device, shape);
        Backward(p, g, (weight, gradWeight, gradBias) => run(device, weight, gradWeight, gradBias));
    }

    /// <summary>Checks a forward pass on host arrays (Core.Nn's float64 path): input, weight, optional bias and output.</summary>
    public static void HostForward<T>(LayerSizes n, object shape, T[] x, T[] weight, T[]? bias, T[] y)
    {
        HostInputs(n, shape, x, weight, bias);
        Validate.Host(y, "output", n.Output, shape);
    }

    /// <summary>Checks a backward pass on host arrays: the inputs, dL/dy and the optional gradient outputs.</summary>
    public static void HostBackward<T>(LayerSizes n, object shape, T[] x, T[] weight, T[] gradOut, T[]? gradInput, T[]? gradWeight,
        T[]? gradBias)
    {
        HostInputs(n, shape, x, weight, null);
        Validate.Host(gradOut, "output gradient", n.Output, shape);
        Validate.Host(gradInput, "input gradient", n.Input, shape, required: false);
        Validate.Host(gradWeight, "weight gradient", n.Weight, shape, required: false);
        Validate.Host(gradBias, "bias gradient", n.Bias, shape, required: false);
    }

    static Device CheckInputs(LayerSizes n, object shape, LayerParameters p, DeviceArray<float> x)
    {
        var device = x.Device;
        Validate.Array(x, "input", n.Input, device, shape);
        ValidateParameters(p, n.Weight, n.Bias, device, shape);
        return device;
    }

    static void HostInputs<T>(LayerSizes n, object shape, T[] x, T[] weight, T[]? bias)
    {
        Validate.Host(x, "input", n.Input, shape);
        Validate.Host(weight, "weight", n.Weight, shape);
        Validate.Host(bias, "bias", n.Bias, shape, required: false);
    }

    static void ValidateParameters(LayerParameters p, int weightLength, int biasLength, Device device, object shape)
    {
        Validate.Array(p.Weight, "weight", weightLength, device, shape);
        Validate.Optional(p.WeightScores, "weight mask scores", weightLength, device, shape);
        Validate.Optional(p.Bias, "bias", biasLength, device, shape);
        if (p.BiasScores is not null && p.Bias is null)
            throw new ArgumentException($"{shape}: bias mask scores given without a bias");
        Validate.Optional(p.BiasScores, "bias mask scores", biasLength, device, shape);
    }

    static void ValidateGradients(LayerParameters p, LayerGradients g, int inputLength, int weightLength, int biasLength,
        Device device, object shape)
    {
        Validate.Optional(g.Input, "input gradient", inputLength, device, shape);
        Validate.Optional(g.EffectiveWeight, "effective weight gradient", weightLength, device, shape);
        Validate.Optional(g.Weight, "weight gradient", weightLength, device, shape);
        Validate.Optional(g.WeightScores, "weight mask score gradient", weightLength, device, shape);
        if (g.WeightScores is not null && p.WeightScores is null)
            throw new ArgumentException($"{shape}: a weight mask score gradient was asked for but the layer has no weight mask");
        if ((g.Bias is not null || g.BiasScores is not null) && p.Bias is null)
            throw new ArgumentException($"{shape}: a bias gradient was asked for but the layer has no bias");
        Validate.Optional(g.Bias, "bias gradient", biasLength, device, shape);
        Validate.Optional(g.BiasScores, "bias mask score gradient", biasLength, device, shape);
        if (g.BiasScores is not null && p.BiasScores is null)
            throw new ArgumentException($"{shape}: a bias mask score gradient was asked for but the layer has no bias mask");
    }

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

/// <summary>The array lengths of a layer: input, weight, bias (the output features or channels) and output.</summary>
internal readonly record struct LayerSizes(int Input, int Weight, int Bias, int Output);
