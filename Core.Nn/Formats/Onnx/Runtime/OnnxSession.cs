using Hybrid.Core.Gpu;
using Hybrid.Core.Nn.Formats.Onnx.Reader;

namespace Hybrid.Core.Nn.Formats.Onnx.Runtime;

/// <summary>
/// Runs an <see cref="OnnxModel"/> through Core.Nn: nodes in topological order, each compiled once to a kernel over
/// <see cref="Functional"/> ops (float32) or host code (int64 shape arithmetic). Building the session checks the whole
/// graph, so an unknown operator, an unsupported attribute, a cycle or a missing weight is reported before anything runs;
/// subgraphs that depend only on constants (the shape arithmetic exporters emit) are computed once, here.
/// </summary>
public sealed class OnnxSession
{
    readonly Step[] steps;
    readonly Tensor?[] constants;
    readonly Dictionary<string, int> slots;
    readonly (string Name, int Slot, OnnxValueInfo Info)[] inputs;
    readonly (string Name, int Slot)[] outputs;

    sealed record Step(OnnxNode Node, Kernel Kernel, int[] Inputs, int[] Outputs, int[] Release);

    /// <summary>Compiles <paramref name="model"/> for <paramref name="device"/> (default: the cpu device).</summary>
    /// <exception cref="InputException">A node uses an unsupported operator or attribute, needs a value that nothing
    /// produces, or an initializer it reads has no data; the message names the file and the node.</exception>
    public OnnxSession(OnnxModel model, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        Device = device ?? Device.Cpu;
        var order = OnnxPlanner.Order(model);
        slots = new Dictionary<string, int>();
        int Slot(string name) => slots.TryGetValue(name, out int s) ? s : slots[name] = slots.Count;

        var constantValues = new Dictionary<int, Tensor>();
        var initializerNames = model.Initializers.Keys.ToHashSet();
        inputs = model.Inputs.Where(i => !initializerNames.Contains(i.Name)).Select(i => (i.Name, Slot(i.Name), i)).ToArray();
        var used = model.Nodes.SelectMany(n => n.Inputs).ToHashSet();
        foreach (var (name, tensor) in model.Initializers)
            if (used.Contains(name) || model.Outputs.Any(o => o.Name == name))
                constantValues[Slot(name)] = OnnxValues.FromInitializer(model.Path, tensor, Device);

        var planned = new List<(OnnxNode Node, Kernel Kernel, int[] In, int[] Out)>();
        foreach (var node in order)
        {
            var kernel = Compile(model, node, Device);
            var inSlots = node.Inputs.Select(n => n.Length == 0 ? -1 : Slot(n)).ToArray();
            var outSlots = node.Outputs.Select(n => n.Length == 0 ? -1 : Slot(n)).ToArray();
            if (OnnxPlanner.Foldable(node, inSlots, constantValues))
            {
                var values = Execute(model, node, kernel, inSlots.Select(s => s < 0 ? null : constantValues[s]).ToArray());
                for (int i = 0; i < outSlots.Length; i++)
                    if (outSlots[i] >= 0) constantValues[outSlots[i]] = values[i];
            }
            else planned.Add((node, kernel, inSlots, outSlots));
        }

        outputs = model.Outputs.Select(o => (o.Name, slots.TryGetValue(o.Name, out int s) ? s
            : throw new InputException(model.Path, $"graph output '{o.Name}' is produced by no node, initializer or input"))).ToArray();
        constants = new Tensor?[slots.Count];
        foreach (var (slot, value) in constantValues) constants[slot] = value;
        steps = Plan(planned);
        Folded = model.Nodes.Count - steps.Length;
    }

    /// <summary>The model this session runs.</summary>
    public OnnxModel Model { get; }

    /// <summary>Where GEMM-class work runs.</summary>
    public Device Device { get; }

    /// <summary>The inputs <see cref="Run(IReadOnlyDictionary{string, Tensor})"/> needs: graph inputs without an
    /// initializer (with <c>export_params=False</c>, the weights too).</summary>
    public IReadOnlyList<OnnxValueInfo> Inputs => inputs.Select(i => i.Info).ToArray();

    /// <summary>The graph's output names, in order.</summary>
    public IReadOnlyList<string> Outputs => outputs.Select(o => o.Name).ToArray();

    /// <summary>The nodes that run on every call, in order (nodes computed from constants alone are not among them).</summary>
    public IReadOnlyList<OnnxNode> Steps => steps.Select(s => s.Node).ToArray();

    /// <summary>How many nodes were computed once when the session was built (constant folding).</summary>
    public int Folded { get; }

    /// <summary>The value <paramref name="name"/> when it is constant: an initializer or the output of a folded node.</summary>
    public Tensor? Constant(string name) => slots.TryGetValue(name, out int s) ? constants[s] : null;

    /// <summary>Runs the graph on <paramref name="feeds"/> (every name of <see cref="Inputs"/>; float32 or int64 as
    /// declared) and returns every graph output by name. Runs without recording autograd.</summary>
    public IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> feeds) => Run(feeds, null);

    /// <summary>Runs the graph as <see cref="Run(IReadOnlyDictionary{string, Tensor})"/> does and hands every step's
    /// node, inputs and outputs to <paramref name="observe"/> as soon as the step has run, before the values no later
    /// step reads are released: every intermediate value can be seen without the session keeping it. Nodes computed
    /// from constants alone when the session was built (<see cref="Folded"/>) are not steps and are not observed.</summary>
    public IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> feeds, OnnxObserver? observe)
    {
        ArgumentNullException.ThrowIfNull(feeds);
        foreach (var name in feeds.Keys)
            if (!inputs.Any(i => i.Name == name))
                throw new ArgumentException($"'{name}' is not an input of {Model.Path}; its inputs are {string.Join(", ", inputs.Select(i => i.Name))}", nameof(feeds));
        var values = (Tensor?[])constants.Clone();
        foreach (var (name, slot, info) in inputs)
        {
            if (!feeds.TryGetValue(name, out var tensor))
                throw new ArgumentException($"input '{name}' ({info}) of {Model.Path} is missing", nameof(feeds));
            OnnxValues.CheckFeed(info, tensor);
            values[slot] = tensor;
        }
        using (Autograd.NoGrad())
            foreach (var step in steps)
            {
                var arguments = step.Inputs.Select(s => s < 0 ? null : values[s]).ToArray();
                var results = Execute(Model, step.Node, step.Kernel, arguments);
                for (int i = 0; i < step.Outputs.Length; i++)
                    if (step.Outputs[i] >= 0) values[step.Outputs[i]] = results[i];
                observe?.Invoke(step.Node, arguments, results);
                foreach (int slot in step.Release) values[slot] = null;
            }
        return outputs.ToDictionary(o => o.Name, o => values[o.Slot]!);
    }

    /// <summary>Runs a model with one input and one output.</summary>
    public Tensor Run(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (inputs.Length != 1 || outputs.Length != 1)
            throw new InvalidOperationException(
                $"{Model.Path} has {inputs.Length} inputs and {outputs.Length} outputs; Run(Tensor) needs one of each (use the dictionary form)");
        return Run(new Dictionary<string, Tensor> { [inputs[0].Name] = input })[outputs[0].Name];
    }

    static Kernel Compile(OnnxModel model, OnnxNode node, Device device)
    {
        try
        {
            return OnnxOperators.Compile(node, model.Opset, device);
        }
        catch (OnnxOpException e)
        {
            throw new InputException(model.Path, $"{OnnxPlanner.Describe(node)}: {e.Message}", e);
        }
    }

    static Tensor[] Execute(OnnxModel model, OnnxNode node, Kernel kernel, Tensor?[] arguments)
    {
        try
        {
            var results = kernel(arguments);
            if (results.Length < node.Outputs.Count(o => o.Length > 0))
                throw new OnnxOpException($"produced {results.Length} outputs, the node names {node.Outputs.Count}");
            return results;
        }
        catch (Exception e) when (e is OnnxOpException or ArgumentException or InvalidOperationException)
        {
            throw new InputException(model.Path, $"{OnnxPlanner.Describe(node)}: {e.Message}", e);
        }
    }

    /// <summary>Adds to each step the slots whose last reader it is, so intermediate activations are freed early.</summary>
    Step[] Plan(List<(OnnxNode Node, Kernel Kernel, int[] In, int[] Out)> planned)
    {
        var lastUse = new Dictionary<int, int>();
        for (int i = 0; i < planned.Count; i++)
            foreach (int s in planned[i].In)
                if (s >= 0 && constants[s] is null) lastUse[s] = i;
        var keep = outputs.Select(o => o.Slot).ToHashSet();
        return planned.Select((p, i) => new Step(p.Node, p.Kernel, p.In, p.Out,
            lastUse.Where(kv => kv.Value == i && !keep.Contains(kv.Key)).Select(kv => kv.Key).ToArray())).ToArray();
    }
}
