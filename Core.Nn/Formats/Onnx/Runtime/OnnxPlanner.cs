using Hybrid.Core.Nn.Formats.Onnx.Reader;

namespace Hybrid.Core.Nn.Formats.Onnx.Runtime;

/// <summary>The order a session runs nodes in, and which nodes it may compute once at build time.</summary>
internal static class OnnxPlanner
{
    /// <summary>"node NAME (OpType)"; an unnamed node is named by its first output.</summary>
    public static string Describe(OnnxNode node) =>
        $"node {(node.Name.Length > 0 ? node.Name : node.Outputs.FirstOrDefault(o => o.Length > 0) ?? "?")} ({node.OpType})";

    /// <summary>
    /// The nodes in a topological order that keeps file order wherever the dependencies allow (files are meant to be
    /// sorted already). A value that nothing produces, a value produced twice, and a cycle are refused naming the node.
    /// </summary>
    public static IReadOnlyList<OnnxNode> Order(OnnxModel model)
    {
        var nodes = model.Nodes;
        var available = model.Inputs.Select(i => i.Name).Concat(model.Initializers.Keys).ToHashSet();
        var producer = new Dictionary<string, int>();
        for (int i = 0; i < nodes.Count; i++)
            foreach (var output in nodes[i].Outputs)
                if (output.Length > 0 && (available.Contains(output) || !producer.TryAdd(output, i)))
                    throw Refuse(model, nodes[i], $"output '{output}' is also produced by another node, initializer or input");

        var waiting = new int[nodes.Count];
        var consumers = new List<int>[nodes.Count];
        for (int i = 0; i < nodes.Count; i++) consumers[i] = [];
        for (int i = 0; i < nodes.Count; i++)
            foreach (var input in nodes[i].Inputs.Where(n => n.Length > 0).Distinct())
            {
                if (available.Contains(input)) continue;
                if (!producer.TryGetValue(input, out int p))
                    throw Refuse(model, nodes[i], $"input '{input}' is produced by no node, initializer or graph input");
                waiting[i]++;
                consumers[p].Add(i);
            }

        // Kahn's algorithm; the queue is ordered by file position so a sorted file keeps its order.
        var ready = new PriorityQueue<int, int>();
        for (int i = 0; i < nodes.Count; i++)
            if (waiting[i] == 0) ready.Enqueue(i, i);
        var order = new List<OnnxNode>(nodes.Count);
        while (ready.TryDequeue(out int i, out _))
        {
            order.Add(nodes[i]);
            foreach (int c in consumers[i])
                if (--waiting[c] == 0) ready.Enqueue(c, c);
        }
        if (order.Count < nodes.Count)
        {
            int stuck = Enumerable.Range(0, nodes.Count).First(i => waiting[i] > 0);
            var scheduled = order.SelectMany(n => n.Outputs).ToHashSet();
            var missing = nodes[stuck].Inputs.First(n => n.Length > 0 && !available.Contains(n) && !scheduled.Contains(n));
            throw Refuse(model, nodes[stuck],
                $"needs '{missing}', which no earlier node produces: the graph has a cycle through node {nodes[producer[missing]].Name}");
        }
        return order;
    }

    /// <summary>True when every input of <paramref name="node"/> is already constant and the node can be computed on the
    /// host: int64 shape arithmetic, constants, shapes of constants, and pass-throughs.</summary>
    public static bool Foldable(OnnxNode node, int[] inputSlots, IReadOnlyDictionary<int, Tensor> constants)
    {
        bool allInt64 = true;
        foreach (int s in inputSlots)
        {
            if (s < 0) continue;
            if (!constants.TryGetValue(s, out var value)) return false;
            allInt64 &= value.Dtype == ScalarType.Int64;
        }
        return allInt64 || node.OpType is "Shape" or "Identity" or "Constant";
    }

    static InputException Refuse(OnnxModel model, OnnxNode node, string problem) => new(model.Path, $"{Describe(node)}: {problem}");
}
