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

    static IEnumerable<T> Of<T>(Module root) where T : Module =>
        root.NamedModules().Select(m => m.Module).OfType<T>();
}
