namespace Hybrid.Core.Nn.Zoo;

/// <summary>The <c>for m in self.modules(): if isinstance(m, ...)</c> initialisation loops of the source models, visited in
/// <see cref="Module.NamedModules"/> order as PyTorch visits <c>modules()</c>.</summary>
internal static class WeightInit
{
    /// <summary>Kaiming-normal weights for every convolution (gain sqrt(2): ReLU, or leaky ReLU with slope 0, which PyTorch
    /// treats alike) and, when <paramref name="zeroBias"/>, zero biases.</summary>
    public static void Convolutions(Module root, Generator generator, FanMode mode, bool zeroBias)
    {
        foreach (var conv in Of<Conv2d>(root))
        {
            Init.KaimingNormal(conv.Weight, generator, mode: mode, nonlinearity: Nonlinearity.Relu);
            if (zeroBias && conv.Bias is { } b) Init.Zeros(b);
        }
    }

    /// <summary>Kaiming-normal (fan-in, gain sqrt(2)) weights for every convolution and linear layer, biases untouched:
    /// akamaster's <c>_weights_init</c>.</summary>
    public static void KaimingFanIn(Module root, Generator generator)
    {
        foreach (var (_, module) in root.NamedModules())
            if (module is Conv2d conv) Init.KaimingNormal(conv.Weight, generator);
            else if (module is Linear linear) Init.KaimingNormal(linear.Weight, generator);
    }

    /// <summary>Weight 1 and bias 0 for every batch norm.</summary>
    public static void BatchNorms(Module root)
    {
        foreach (var bn in Of<BatchNorm>(root)) bn.ResetParameters();
    }

    /// <summary>N(0, std^2) weights and zero biases for every linear layer.</summary>
    public static void Linears(Module root, Generator generator, double std)
    {
        foreach (var linear in Of<Linear>(root))
        {
            Init.Normal(linear.Weight, generator, 0, std);
            if (linear.Bias is { } b) Init.Zeros(b);
        }
    }

    /// <summary>Zero biases for every linear layer, weights untouched (DenseNet).</summary>
    public static void LinearBiasesZero(Module root)
    {
        foreach (var linear in Of<Linear>(root))
            if (linear.Bias is { } b) Init.Zeros(b);
    }

    /// <summary>timm's MLP-Mixer <c>_init_weights</c> (not its Flax variant): the head's weight and bias zero; other linear
    /// layers Xavier-uniform, with N(0, 1e-6^2) biases inside the MLPs (<c>'mlp' in name</c>) and zero biases elsewhere;
    /// convolutions LeCun-normal (truncated normal) with zero bias. Layer norms keep the ones and zeros they start with.</summary>
    public static void Mixer(Module root, Generator generator)
    {
        foreach (var (path, module) in root.NamedModules())
            if (module is Linear linear)
            {
                bool head = path.StartsWith("head", StringComparison.Ordinal);
                if (head) Init.Zeros(linear.Weight);
                else Init.XavierUniform(linear.Weight, generator);
                if (linear.Bias is { } b)
                    if (!head && path.Contains("mlp", StringComparison.Ordinal)) Init.Normal(b, generator, 0, 1e-6);
                    else Init.Zeros(b);
            }
            else if (module is Conv2d conv)
            {
                LecunNormal(conv.Weight, generator);
                if (conv.Bias is { } b) Init.Zeros(b);
            }
    }

    /// <summary>timm's <c>lecun_normal_</c>: a normal truncated at two standard deviations, scaled so that its variance is
    /// 1 / fan_in (0.8796 is the standard deviation of a standard normal truncated to [-2, 2]).</summary>
    static void LecunNormal(Tensor weight, Generator generator)
    {
        double std = Math.Sqrt(1.0 / Init.Fans(weight).FanIn) / 0.87962566103423978;
        Init.TruncatedNormal(weight, generator, 0, std, -2 * std, 2 * std);
    }

    static IEnumerable<T> Of<T>(Module root) where T : Module =>
        root.NamedModules().Select(m => m.Module).OfType<T>();
}
