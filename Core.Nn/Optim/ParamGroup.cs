namespace Hybrid.Core.Nn.Optim;

/// <summary>A set of parameters that share hyperparameters (PyTorch's <c>param_groups</c> entry): the tensors and options
/// such as <c>lr</c>, <c>weight_decay</c>, <c>momentum</c>, keyed by PyTorch's names.</summary>
/// <remarks>
/// Options are numbers. Flags (<c>nesterov</c>, <c>amsgrad</c>) are 0 or 1, and Adam's <c>betas</c> pair is split into
/// <c>beta1</c> and <c>beta2</c>, so that a group and its saved state are one flat map of scalars. Options a group leaves
/// out take the optimiser's defaults when the group is added to it. Schedulers change <see cref="Lr"/> between steps.
/// </remarks>
public sealed class ParamGroup
{
    readonly OrderedDictionary<string, double> options = new(StringComparer.Ordinal);

    /// <summary>A group of <paramref name="parameters"/> with the given options; the rest come from the optimiser.</summary>
    public ParamGroup(IEnumerable<Tensor> parameters, IReadOnlyDictionary<string, double>? options = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Params = parameters.ToArray();
        if (options is not null)
            foreach (var (name, value) in options)
                this[name] = value;
    }

    /// <summary>The parameters, in the order given.</summary>
    public IReadOnlyList<Tensor> Params { get; }

    /// <summary>Every option, in the order set (the optimiser's own options first once the group is added).</summary>
    public IReadOnlyDictionary<string, double> Options => options;

    /// <summary>The option named <paramref name="name"/> (e.g. <c>"momentum"</c>).</summary>
    public double this[string name]
    {
        get => options.TryGetValue(name, out var value)
            ? value
            : throw new KeyNotFoundException($"the parameter group has no option '{name}' (it has {string.Join(", ", options.Keys)})");
        set
        {
            if (!double.IsFinite(value))
                throw new ArgumentException($"option '{name}' must be finite, not {value}", nameof(value));
            options[name] = value;
        }
    }

    /// <summary>Whether the group has the option <paramref name="name"/>.</summary>
    public bool Has(string name) => options.ContainsKey(name);

    /// <summary>The learning rate (<c>lr</c>).</summary>
    public double Lr
    {
        get => this["lr"];
        set => this["lr"] = value;
    }

    /// <summary>A flag option (0 or 1) as a bool.</summary>
    public bool Flag(string name) => this[name] != 0;

    internal void SetDefault(string name, double value) => options.TryAdd(name, value);

    internal void ReplaceOptions(IReadOnlyDictionary<string, double> replacement)
    {
        options.Clear();
        foreach (var (name, value) in replacement)
            options[name] = value;
    }
}

/// <summary>Option names shared by the optimisers and schedulers (PyTorch's keys).</summary>
public static class OptionNames
{
    /// <summary>The learning rate.</summary>
    public const string Lr = "lr";
    /// <summary>The lr a schedule started from (set by <see cref="LRScheduler"/>).</summary>
    public const string InitialLr = "initial_lr";
    /// <summary>SGD momentum factor.</summary>
    public const string Momentum = "momentum";
    /// <summary>SGD dampening of the gradient added to the momentum buffer.</summary>
    public const string Dampening = "dampening";
    /// <summary>L2 penalty (SGD, Adam) or decoupled decay rate (AdamW).</summary>
    public const string WeightDecay = "weight_decay";
    /// <summary>SGD flag: Nesterov momentum.</summary>
    public const string Nesterov = "nesterov";
    /// <summary>Adam decay rate of the first moment.</summary>
    public const string Beta1 = "beta1";
    /// <summary>Adam decay rate of the second moment.</summary>
    public const string Beta2 = "beta2";
    /// <summary>Adam term added to the denominator.</summary>
    public const string Eps = "eps";
    /// <summary>Adam flag: divide by the running maximum of the second moment (AMSGrad).</summary>
    public const string Amsgrad = "amsgrad";
}
