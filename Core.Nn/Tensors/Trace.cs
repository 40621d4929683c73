namespace Hybrid.Core.Nn;

/// <summary>One op as a <see cref="Trace"/> saw it: its name (the <see cref="Functional"/> method, e.g. "Conv2d"), the
/// tensors it read and wrote, its attributes (stride, padding, eps, ...) and the path of the module that ran it.</summary>
public sealed record TracedOp(string Op, Tensor[] Inputs, Tensor Output, IReadOnlyDictionary<string, object> Attributes, string ModulePath);

/// <summary>Records the ops run on this thread while it is open: how a model's graph is captured from our own modules
/// (ONNX export, architecture extraction) without parsing any code.</summary>
public sealed class Trace : IDisposable
{
    [ThreadStatic] static Trace? current;

    readonly Trace? outer;
    readonly List<TracedOp> ops = [];
    readonly Stack<string> modules = new();
    readonly Dictionary<Module, string> paths = new(ReferenceEqualityComparer.Instance);

    Trace(Module? root)
    {
        if (root is not null)
            foreach (var (path, module) in root.NamedModules()) paths.TryAdd(module, path);
        outer = current;
        current = this;
    }

    /// <summary>Starts recording; ops run inside a module of <paramref name="root"/> carry that module's path
    /// (as in <see cref="Module.NamedModules"/>). Disposing the trace stops it.</summary>
    public static Trace Start(Module? root = null) => new(root);

    /// <summary>The ops in the order they ran.</summary>
    public IReadOnlyList<TracedOp> Ops => ops;

    /// <summary>True while a trace is recording on this thread (ops skip building attributes otherwise).</summary>
    public static bool IsActive => current is not null;

    /// <summary>Notes an op in the open trace, if any.</summary>
    public static void Record(string op, Tensor output, Tensor[] inputs, params (string Name, object Value)[] attributes)
    {
        if (current is not { } trace) return;
        var attrs = new Dictionary<string, object>();
        foreach (var (name, value) in attributes) attrs[name] = value;
        trace.ops.Add(new TracedOp(op, inputs, output, attrs, trace.modules.Count == 0 ? "" : trace.modules.Peek()));
    }

    /// <summary>Marks the ops run until disposal as belonging to <paramref name="module"/>.</summary>
    internal static IDisposable? EnterModule(Module module)
    {
        if (current is not { } trace) return null;
        trace.modules.Push(trace.paths.TryGetValue(module, out var path) ? path : module.TypeName);
        return Autograd.ScopeOf(() => trace.modules.Pop());
    }

    public void Dispose()
    {
        if (current == this) current = outer;
    }
}
