namespace Hybrid.Core.Nn.Modules;

/// <summary>Which fan <see cref="Init.KaimingUniform"/> and <see cref="Init.KaimingNormal"/> scale by: fan-in keeps the
/// variance of activations in the forward pass, fan-out that of gradients in the backward pass.</summary>
public enum FanMode { FanIn, FanOut }

/// <summary>The non-linearities <see cref="Init.Gain"/> knows (PyTorch's <c>calculate_gain</c>).</summary>
public enum Nonlinearity { Linear, Conv, Sigmoid, Tanh, Relu, LeakyRelu, Selu }

/// <summary>PyTorch's <c>torch.nn.init</c>: in-place initialisers drawing from a seeded <see cref="Generator"/>, with the
/// same formulas (bounds, gains, fans), so that a layer's initial distribution is PyTorch's even though the random
/// stream is ours.</summary>
public static class Init
{
    [ThreadStatic] static Generator? defaultGenerator;

    /// <summary>The generator layers draw from when none is passed (PyTorch's global generator, per thread); seeded 0
    /// until <see cref="ManualSeed"/> sets it.</summary>
    public static Generator Default => defaultGenerator ??= new Generator(0);

    /// <summary>Restarts <see cref="Default"/> from <paramref name="seed"/> (PyTorch's <c>torch.manual_seed</c>).</summary>
    public static void ManualSeed(long seed) => defaultGenerator = new Generator(seed);

    /// <summary>Fan-in and fan-out of a weight: dimension 1 and dimension 0 times the receptive field (the product of the
    /// dimensions after the second), as PyTorch's <c>_calculate_fan_in_and_fan_out</c>.</summary>
    public static (int FanIn, int FanOut) Fans(Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Dim < 2)
            throw new ArgumentException($"fans need a tensor of at least 2 dimensions, not shape {ShapeOps.Format(weight.ShapeRef)}", nameof(weight));
        int receptive = 1;
        for (int d = 2; d < weight.Dim; d++) receptive *= weight.Size(d);
        return (weight.Size(1) * receptive, weight.Size(0) * receptive);
    }

    /// <summary>The recommended gain for <paramref name="nonlinearity"/>; <paramref name="negativeSlope"/> is the
    /// leaky-ReLU slope.</summary>
    public static double Gain(Nonlinearity nonlinearity, double negativeSlope = 0.01) => nonlinearity switch
    {
        Nonlinearity.Linear or Nonlinearity.Conv or Nonlinearity.Sigmoid => 1.0,
        Nonlinearity.Tanh => 5.0 / 3,
        Nonlinearity.Relu => Math.Sqrt(2.0),
        Nonlinearity.LeakyRelu => Math.Sqrt(2.0 / (1 + negativeSlope * negativeSlope)),
        Nonlinearity.Selu => 3.0 / 4,
        _ => throw new ArgumentOutOfRangeException(nameof(nonlinearity), nonlinearity, "not a Nonlinearity value"),
    };

    /// <summary>U(-b, b) with b = gain * sqrt(3 / fan) (He et al. 2015); <paramref name="a"/> is the negative slope of
    /// the leaky ReLU that follows (PyTorch's default layers use a = sqrt(5), giving b = 1 / sqrt(fan_in)).</summary>
    public static Tensor KaimingUniform(Tensor tensor, Generator generator, double a = 0, FanMode mode = FanMode.FanIn,
        Nonlinearity nonlinearity = Nonlinearity.LeakyRelu)
    {
        double bound = Math.Sqrt(3.0) * KaimingStd(tensor, a, mode, nonlinearity);
        return Uniform(tensor, generator, -bound, bound);
    }

    /// <summary>N(0, std^2) with std = gain / sqrt(fan) (He et al. 2015).</summary>
    public static Tensor KaimingNormal(Tensor tensor, Generator generator, double a = 0, FanMode mode = FanMode.FanIn,
        Nonlinearity nonlinearity = Nonlinearity.LeakyRelu) =>
        Normal(tensor, generator, 0, KaimingStd(tensor, a, mode, nonlinearity));

    /// <summary>U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio 2010; PyTorch's
    /// <c>xavier_uniform_</c>).</summary>
    public static Tensor XavierUniform(Tensor tensor, Generator generator, double gain = 1)
    {
        var (fanIn, fanOut) = Fans(tensor);
        if (fanIn + fanOut == 0) throw new ArgumentException($"Xavier initialisation of shape {ShapeOps.Format(tensor.ShapeRef)}: the fans are 0", nameof(tensor));
        double bound = gain * Math.Sqrt(6.0 / (fanIn + fanOut));
        return Uniform(tensor, generator, -bound, bound);
    }

    /// <summary>N(mean, std^2) restricted to [a, b], in place (PyTorch's <c>trunc_normal_</c>, whose bounds are absolute
    /// values). Draws outside the bounds are drawn again, so the interval must hold the mean and be at least one standard
    /// deviation wide: then at least a third of the draws are kept.</summary>
    public static Tensor TruncatedNormal(Tensor tensor, Generator generator, double mean, double std, double a, double b)
    {
        CheckFloat(tensor);
        ArgumentNullException.ThrowIfNull(generator);
        if (!(std > 0) || !(a <= mean && mean <= b) || !(b - a >= std))
            throw new ArgumentException($"truncated normal: [{a}, {b}] must hold the mean {mean} and be at least one std ({std}) wide", nameof(std));
        var values = new double[tensor.Numel];
        for (int i = 0; i < values.Length; i++)
        {
            double v;
            do v = mean + std * generator.NextNormal(); while (v < a || v > b);
            values[i] = v;
        }
        return tensor.CopyFrom(Tensor.Wrap(values, [values.Length]));
    }

    /// <summary>U(low, high), in place.</summary>
    public static Tensor Uniform(Tensor tensor, Generator generator, double low = 0, double high = 1)
    {
        CheckFloat(tensor);
        ArgumentNullException.ThrowIfNull(generator);
        if (!(low <= high)) throw new ArgumentException($"uniform bounds must satisfy low <= high, not [{low}, {high}]", nameof(low));
        generator.FillUniform(tensor, low, high);
        return tensor;
    }

    /// <summary>N(mean, std^2), in place.</summary>
    public static Tensor Normal(Tensor tensor, Generator generator, double mean = 0, double std = 1)
    {
        CheckFloat(tensor);
        ArgumentNullException.ThrowIfNull(generator);
        if (!(std >= 0)) throw new ArgumentException($"the standard deviation must be non-negative, not {std}", nameof(std));
        generator.FillNormal(tensor, mean, std);
        return tensor;
    }

    /// <summary>Every element set to <paramref name="value"/>, in place.</summary>
    public static Tensor Constant(Tensor tensor, double value)
    {
        CheckFloat(tensor);
        return tensor.Fill(value);
    }

    /// <summary>Zeros, in place.</summary>
    public static Tensor Zeros(Tensor tensor) => Constant(tensor, 0);

    /// <summary>Ones, in place.</summary>
    public static Tensor Ones(Tensor tensor) => Constant(tensor, 1);

    /// <summary>The bias initialisation of PyTorch's Linear and Conv2d: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the fan-in of
    /// <paramref name="weight"/> (nothing when fan_in is 0).</summary>
    public static Tensor FanInUniform(Tensor bias, Tensor weight, Generator generator)
    {
        var (fanIn, _) = Fans(weight);
        double bound = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
        return Uniform(bias, generator, -bound, bound);
    }

    static double KaimingStd(Tensor tensor, double a, FanMode mode, Nonlinearity nonlinearity)
    {
        var (fanIn, fanOut) = Fans(tensor);
        int fan = mode == FanMode.FanIn ? fanIn : fanOut;
        if (fan == 0) throw new ArgumentException($"Kaiming initialisation of shape {ShapeOps.Format(tensor.ShapeRef)}: the fan is 0", nameof(tensor));
        return Gain(nonlinearity, a) / Math.Sqrt(fan);
    }

    static void CheckFloat(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!tensor.IsFloatingPoint)
            throw new ArgumentException($"initialisers fill floating-point tensors, not {tensor.Dtype} (shape {ShapeOps.Format(tensor.ShapeRef)})", nameof(tensor));
    }
}
