namespace Hybrid.Core.Nn.Formats.Onnx.Reader;

/// <summary>One operator application in the graph, in the file's (topological) order.</summary>
/// <param name="Name">The node's name; PyTorch's exporter puts the module path here, e.g. <c>/layer1/layer1.0/conv1/Conv</c>.</param>
/// <param name="OpType">The operator, e.g. <c>Conv</c>.</param>
/// <param name="Domain">The operator set domain; empty for the standard <c>ai.onnx</c> operators.</param>
/// <param name="Inputs">Value names consumed; an empty name marks an omitted optional input.</param>
/// <param name="Outputs">Value names produced.</param>
/// <param name="Attributes">Attributes by name.</param>
public sealed record OnnxNode(
    string Name,
    string OpType,
    string Domain,
    IReadOnlyList<string> Inputs,
    IReadOnlyList<string> Outputs,
    IReadOnlyDictionary<string, OnnxAttribute> Attributes)
{
    /// <summary>The int attribute <paramref name="name"/>, or <paramref name="fallback"/> when the node has none.</summary>
    public long Int(string name, long fallback) =>
        Attributes.TryGetValue(name, out var a) && a.Type == OnnxAttributeType.Int ? a.Int : fallback;

    /// <summary>The ints attribute <paramref name="name"/>, or null when the node has none.</summary>
    public IReadOnlyList<long>? Ints(string name) =>
        Attributes.TryGetValue(name, out var a) && a.Type == OnnxAttributeType.Ints ? a.Ints : null;

    /// <summary>The float attribute <paramref name="name"/>, or <paramref name="fallback"/> when the node has none.</summary>
    public float Float(string name, float fallback) =>
        Attributes.TryGetValue(name, out var a) && a.Type == OnnxAttributeType.Float ? a.Float : fallback;
}
