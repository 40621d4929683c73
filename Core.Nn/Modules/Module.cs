namespace Hybrid.Core.Nn.Modules;

/// <summary>What <see cref="Module.LoadStateDict"/> found: keys the module expected but the state lacked, and keys of the
/// state the module has no place for (PyTorch's <c>_IncompatibleKeys</c>).</summary>
public sealed record LoadResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys)
{
    public bool IsComplete => MissingKeys.Count == 0 && UnexpectedKeys.Count == 0;
}

/// <summary>The base of every layer and model, shaped like PyTorch's <c>nn.Module</c>: named parameters, buffers and
/// children in registration order, state keys joined by dots (<c>layer1.0.conv1.weight</c>), train / eval modes and
/// forward hooks.</summary>
public abstract class Module
{
    readonly List<(string Name, Tensor? Value)> parameters = [];
    readonly List<(string Name, Tensor? Value, bool Persistent)> buffers = [];
    readonly List<(string Name, Module Value)> children = [];
    readonly List<Action<Module, Tensor, Tensor>> forwardHooks = [];

    /// <summary>True in training mode (the default), false in evaluation mode.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>The class name PyTorch would report (<c>type(module).__name__</c>), e.g. "Conv2d" or "BasicBlock".</summary>
    public virtual string TypeName => GetType().Name;

    /// <summary>Computes the module's output. Callers should use <see cref="Call"/>, which also runs hooks.</summary>
    public abstract Tensor Forward(Tensor input);

    /// <summary>Runs <see cref="Forward"/>, then the forward hooks (PyTorch's <c>module(x)</c>).</summary>
    public Tensor Call(Tensor input)
    {
        Tensor output;
        using (Trace.EnterModule(this)) output = Forward(input);
        foreach (var hook in forwardHooks) hook(this, input, output);
        return output;
    }

    /// <summary>True when some forward hook would see this module's output (fused paths must then produce it as is).</summary>
    internal bool HasForwardHooks => forwardHooks.Count > 0;

    /// <summary>True when this module or any module below it has a forward hook (one may keep the values it sees).</summary>
    internal bool HasForwardHooksWithin
    {
        get
        {
            if (forwardHooks.Count > 0) return true;
            foreach (var child in children)
                if (child.Value.HasForwardHooksWithin) return true;
            return false;
        }
    }

    /// <summary>Calls <paramref name="hook"/>(module, input, output) after every forward; disposing the handle removes it.</summary>
    public IDisposable RegisterForwardHook(Action<Module, Tensor, Tensor> hook)
    {
        forwardHooks.Add(hook);
        return Autograd.ScopeOf(() => forwardHooks.Remove(hook));
    }

    /// <summary>Adds a parameter (its <see cref="Tensor.RequiresGrad"/> is set); null registers the name with no tensor
    /// (PyTorch's <c>register_parameter(name, None)</c>, e.g. a convolution without bias).</summary>
    protected Tensor? RegisterParameter(string name, Tensor? value)
    {
        CheckName(name);
        if (value is not null) value.RequiresGrad = true;
        parameters.Add((name, value));
        return value;
    }

    /// <summary>Adds a buffer: state that is saved but not trained (running statistics); non-persistent buffers are left
    /// out of the state dict.</summary>
    protected Tensor? RegisterBuffer(string name, Tensor? value, bool persistent = true)
    {
        CheckName(name);
        buffers.Add((name, value, persistent));
        return value;
    }

    /// <summary>Adds a child module; its state keys are prefixed with <paramref name="name"/>.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        children.Add((name, module));
        return module;
    }

    /// <summary>The parameter registered as <paramref name="name"/> on this module (not its children).</summary>
    protected Tensor? Parameter(string name) => parameters.Find(p => p.Name == name).Value;

    /// <summary>The buffer registered as <paramref name="name"/> on this module.</summary>
    protected Tensor? Buffer(string name) => buffers.Find(b => b.Name == name).Value;

    /// <summary>Direct children in registration order.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren() => children.Select(c => (c.Name, c.Value));

    /// <summary>This module (path "") and every descendant with its dotted path, depth first in registration order; a
    /// module reachable twice is listed once, as in PyTorch.</summary>
    public IEnumerable<(string Path, Module Module)> NamedModules()
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        return Walk(this, "", seen);

        static IEnumerable<(string, Module)> Walk(Module module, string path, HashSet<Module> seen)
        {
            if (!seen.Add(module)) yield break;
            yield return (path, module);
            foreach (var (name, child) in module.children)
                foreach (var item in Walk(child, Join(path, name), seen))
                    yield return item;
        }
    }

    /// <summary>Every parameter with its state key, this module's first, then each child's.</summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters()
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (path, module) in NamedModules())
            foreach (var (name, value) in module.parameters)
                if (value is not null && seen.Add(value)) yield return (Join(path, name), value);
    }

    /// <summary>The parameters (for an optimiser).</summary>
    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>Every buffer with its state key.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers()
    {
        foreach (var (path, module) in NamedModules())
            foreach (var (name, value, _) in module.buffers)
                if (value is not null) yield return (Join(path, name), value);
    }

    /// <summary>The number of parameter elements.</summary>
    public long ParameterCount() => Parameters().Sum(p => (long)p.Numel);

    /// <summary>Parameters and persistent buffers by state key, in PyTorch's order (per module: parameters, then buffers;
    /// then the children). The tensors are the module's own, not copies.</summary>
    public IReadOnlyList<(string Key, Tensor Value)> StateDict()
    {
        var state = new List<(string, Tensor)>();
        foreach (var (path, module) in NamedModules())
        {
            foreach (var (name, value) in module.parameters)
                if (value is not null) state.Add((Join(path, name), value));
            foreach (var (name, value, persistent) in module.buffers)
                if (value is not null && persistent) state.Add((Join(path, name), value));
        }
        return state;
    }

    /// <summary>Copies matching entries of <paramref name="state"/> into the module's tensors (converting dtypes). With
    /// <paramref name="strict"/>, missing or unexpected keys throw, naming them; a shape mismatch always throws. Nothing is
    /// written unless every check passes.</summary>
    public LoadResult LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var own = new List<(string Key, Tensor Value, Module Owner, string Local)>();
        foreach (var (path, module) in NamedModules())
        {
            foreach (var (name, value) in module.parameters)
                if (value is not null) own.Add((Join(path, name), value, module, name));
            foreach (var (name, value, persistent) in module.buffers)
                if (value is not null && persistent) own.Add((Join(path, name), value, module, name));
        }
        var ownKeys = own.Select(o => o.Key).ToHashSet();
        var missing = own.Where(o => !state.ContainsKey(o.Key) && !o.Owner.MayBeMissing(o.Local)).Select(o => o.Key).ToList();
        var unexpected = state.Keys.Where(k => !ownKeys.Contains(k)).ToList();
        foreach (var (key, value, _, _) in own)
            if (state.TryGetValue(key, out var source) && !ShapeOps.Equal(source.ShapeRef, value.ShapeRef) && !IsScalarAsVector(source, value))
                throw new ArgumentException(
                    $"state '{key}': the file holds shape {ShapeOps.Format(source.ShapeRef)}, the model expects {ShapeOps.Format(value.ShapeRef)}");
        if (strict && (missing.Count > 0 || unexpected.Count > 0))
            throw new ArgumentException(
                "the state does not fit the model: " +
                string.Join("; ", new[] { Describe("missing keys", missing), Describe("unexpected keys", unexpected) }.Where(s => s.Length > 0)));
        using (Autograd.NoGrad())
            foreach (var (key, value, _, _) in own)
                if (state.TryGetValue(key, out var source)) value.CopyFrom(source);
        return new LoadResult(missing, unexpected);

        static string Describe(string what, List<string> keys) =>
            keys.Count == 0 ? "" : $"{what} {string.Join(", ", keys.Take(8))}{(keys.Count > 8 ? $" and {keys.Count - 8} more" : "")}";
    }

    /// <summary>PyTorch loads a one-element vector into a rank-0 tensor (files that store num_batches_tracked as [1]).</summary>
    static bool IsScalarAsVector(Tensor source, Tensor target) => target.Dim == 0 && source.Dim == 1 && source.Numel == 1;

    /// <summary>True for local state names a checkpoint may lack without being incomplete (BatchNorm's
    /// <c>num_batches_tracked</c>, which PyTorch before 0.4.1 did not save).</summary>
    protected virtual bool MayBeMissing(string localName) => false;

    /// <summary>Sets training mode on this module and every descendant; disposing the result restores each module's
    /// previous mode (<c>using (model.Train())</c>).</summary>
    public IDisposable Train(bool on = true)
    {
        var previous = NamedModules().Select(m => (m.Module, m.Module.Training)).ToList();
        foreach (var (module, _) in previous) module.Training = on;
        return Autograd.ScopeOf(() => { foreach (var (module, mode) in previous) module.Training = mode; });
    }

    /// <summary>Evaluation mode (see <see cref="Train"/>).</summary>
    public IDisposable Eval() => Train(false);

    /// <summary>Clears the gradients of every parameter.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.Grad = null;
    }

    /// <summary>Moves parameters and buffers to <paramref name="device"/> (host storage is shared, so this is cheap).
    /// Create optimisers after moving: parameters are replaced by new tensor objects.</summary>
    public Module To(Gpu.Device device) => Replace(t => t.To(device));

    /// <summary>Converts the floating-point parameters and buffers to <paramref name="dtype"/> (PyTorch's <c>module.double()</c>
    /// and <c>module.float()</c>); integer buffers such as <c>num_batches_tracked</c> keep their type. Create optimisers
    /// after converting: parameters are replaced by new tensor objects.</summary>
    public Module To(ScalarType dtype)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64))
            throw new ArgumentException($"{TypeName}: modules convert to float32 or float64, not {dtype}", nameof(dtype));
        return Replace(t => t.IsFloatingPoint ? t.To(dtype) : t);
    }

    /// <summary>Replaces every parameter and buffer by <paramref name="convert"/> of it; parameters are detached first and
    /// keep their <see cref="Tensor.RequiresGrad"/>.</summary>
    Module Replace(Func<Tensor, Tensor> convert)
    {
        foreach (var (_, module) in NamedModules())
        {
            for (int i = 0; i < module.parameters.Count; i++)
                if (module.parameters[i].Value is { } p)
                {
                    var replaced = convert(p.Detach());
                    replaced.RequiresGrad = p.RequiresGrad;
                    module.parameters[i] = (module.parameters[i].Name, replaced);
                }
            for (int i = 0; i < module.buffers.Count; i++)
                if (module.buffers[i].Value is { } b)
                    module.buffers[i] = (module.buffers[i].Name, convert(b), module.buffers[i].Persistent);
        }
        return this;
    }

    static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    void CheckName(string name)
    {
        if (name.Length == 0 || name.Contains('.'))
            throw new ArgumentException($"{TypeName}: state names must be non-empty and free of dots, not '{name}'");
        if (parameters.Any(p => p.Name == name) || buffers.Any(b => b.Name == name) || children.Any(c => c.Name == name))
            throw new ArgumentException($"{TypeName}: '{name}' is already registered");
    }
}
