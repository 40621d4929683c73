namespace Hybrid.Core.Nn.Optim;

/// <summary>The base of the optimisers, shaped like PyTorch's <c>torch.optim.Optimizer</c>: parameter groups with their
/// own options, per-parameter state, <see cref="ZeroGrad"/>, <see cref="Step"/>, and a state dict from which training
/// resumes exactly.</summary>
/// <remarks>Updates write the parameters' float32 or float64 storage in place with SIMD element-wise kernels; they are not
/// autograd ops and record nothing. Options are checked when a group is added or a state dict loaded; an option changed
/// through <see cref="ParamGroup"/>'s indexer later is used as it is. The per-parameter kernels are internal, so the
/// optimisers of this assembly are the only subclasses.</remarks>
public abstract partial class Optimizer
{
    readonly List<ParamGroup> groups = [];
    readonly Dictionary<Tensor, ParameterState> state = new(ReferenceEqualityComparer.Instance);
    readonly OrderedDictionary<string, double> defaults;

    private protected Optimizer(IEnumerable<ParamGroup> groups, IReadOnlyDictionary<string, double> defaults)
    {
        ArgumentNullException.ThrowIfNull(groups);
        this.defaults = new(defaults, StringComparer.Ordinal);
        var list = groups.ToList();
        if (list.Count == 0 || list.All(g => g is not null && g.Params.Count == 0))
            throw new ArgumentException($"{GetType().Name}: the optimiser got an empty parameter list", nameof(groups));
        foreach (var group in list)
            AddParamGroup(group);
    }

    /// <summary>The options a group takes when it does not set them.</summary>
    public IReadOnlyDictionary<string, double> Defaults => defaults;

    /// <summary>The parameter groups, in the order added.</summary>
    public IReadOnlyList<ParamGroup> ParamGroups => groups;

    /// <summary>The state kept for <paramref name="parameter"/>; empty before its first step.</summary>
    public IReadOnlyDictionary<string, Tensor> State(Tensor parameter) =>
        state.TryGetValue(parameter, out var s) ? s.Tensors : new Dictionary<string, Tensor>();

    /// <summary>Adds a group (PyTorch's <c>add_param_group</c>): options it leaves out take <see cref="Defaults"/>.
    /// Parameters must be floating-point leaves and may belong to one group only; options must be known and valid.</summary>
    public void AddParamGroup(ParamGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var p in group.Params)
        {
            if (p is null)
                throw new ArgumentException($"{GetType().Name}: a parameter group holds a null tensor", nameof(group));
            if (!p.IsFloatingPoint || !p.IsLeaf)
                throw new ArgumentException($"{GetType().Name}: can only optimise floating-point leaf tensors, not {p}", nameof(group));
            if (!seen.Add(p) || groups.Any(g => g.Params.Contains(p, ReferenceEqualityComparer.Instance)))
                throw new ArgumentException($"{GetType().Name}: parameter {p} appears more than once in the parameter groups", nameof(group));
        }
        CompleteOptions(group);
        groups.Add(group);
    }

    /// <summary>Refuses options the optimiser does not know, fills in the defaults and checks the values.</summary>
    void CompleteOptions(ParamGroup group)
    {
        foreach (var name in group.Options.Keys)
            if (!defaults.ContainsKey(name) && name != OptionNames.InitialLr)
                throw new ArgumentException(
                    $"{GetType().Name}: unknown option '{name}' (known: {string.Join(", ", defaults.Keys)})", nameof(group));
        foreach (var (name, value) in defaults)
            group.SetDefault(name, value);
        Validate(group);
    }

    /// <summary>Clears every parameter's gradient: sets it to null (PyTorch 2's default) or, with
    /// <paramref name="setToNone"/> false, fills it with zeros.</summary>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var group in groups)
            foreach (var p in group.Params)
                if (setToNone) p.Grad = null;
                else p.Grad?.Fill(0);
    }

    /// <summary>Updates every parameter that has a gradient; parameters whose <see cref="Tensor.Grad"/> is null are skipped
    /// and keep their state.</summary>
    public void Step()
    {
        foreach (var group in groups)
            foreach (var p in group.Params)
            {
                if (p.Grad is not { } grad)
                    continue;
                if (grad.Dtype != p.Dtype || !ShapeOps.Equal(grad.ShapeRef, p.ShapeRef))
                    throw new InvalidOperationException(
                        $"{GetType().Name}: parameter {ShapeOps.Format(p.ShapeRef)} {p.Dtype} has a gradient of {ShapeOps.Format(grad.ShapeRef)} {grad.Dtype}");
                if (!state.TryGetValue(p, out var s))
                    state[p] = s = new ParameterState();
                switch (p.Storage)
                {
                    case float[] f: Update(group, p, f, grad.F32, s); break;
                    case double[] d: Update(group, p, d, grad.F64, s); break;
                }
            }
    }

    /// <summary>One step for one parameter: <paramref name="param"/> and <paramref name="grad"/> are the storages of
    /// <paramref name="parameter"/> and its gradient.</summary>
    private protected abstract void Update<T>(ParamGroup group, Tensor parameter, T[] param, T[] grad, ParameterState state)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the option when a group's options are out of range.</summary>
    private protected abstract void Validate(ParamGroup group);

    /// <summary>Requires option <paramref name="name"/> of <paramref name="group"/> to satisfy <paramref name="ok"/>.</summary>
    private protected void Require(ParamGroup group, string name, Func<double, bool> ok, string range)
    {
        double value = group[name];
        if (!ok(value))
            throw new ArgumentException($"{GetType().Name}: {name} must be {range}, not {value}", nameof(group));
    }

    /// <summary>A flag option must be 0 or 1.</summary>
    private protected void RequireFlag(ParamGroup group, string name) => Require(group, name, v => v is 0 or 1, "0 or 1 (a flag)");

    /// <summary>A double scalar in <typeparamref name="T"/>, rounded as PyTorch rounds a Python float for a tensor op.</summary>
    private protected static T Scalar<T>(double value) where T : unmanaged, IFloatingPointIeee754<T> => T.CreateTruncating(value);

    private protected static IReadOnlyDictionary<string, double> DefaultsOf(params (string Name, double Value)[] options) =>
        options.ToDictionary(o => o.Name, o => o.Value);

    private protected static IEnumerable<ParamGroup> OneGroup(IEnumerable<Tensor> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return [new ParamGroup(parameters)];
    }
}
