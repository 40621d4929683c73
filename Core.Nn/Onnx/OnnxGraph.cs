namespace Hybrid.Core.Nn.Onnx;

/// <summary>Kinds of ONNX attribute values, numbered as <c>AttributeProto.AttributeType</c>.</summary>
public enum OnnxAttributeType
{
    /// <summary>Not set (files older than IR version 2).</summary>
    Undefined = 0,
    /// <summary>One float, in <see cref="OnnxAttribute.Float"/>.</summary>
    Float = 1,
    /// <summary>One int64, in <see cref="OnnxAttribute.Int"/>.</summary>
    Int = 2,
    /// <summary>One string, in <see cref="OnnxAttribute.String"/>.</summary>
    String = 3,
    /// <summary>One tensor, in <see cref="OnnxAttribute.Tensor"/>.</summary>
    Tensor = 4,
    /// <summary>A subgraph; its body is not read.</summary>
    Graph = 5,
    /// <summary>Floats, in <see cref="OnnxAttribute.Floats"/>.</summary>
    Floats = 6,
    /// <summary>Int64s, in <see cref="OnnxAttribute.Ints"/>.</summary>
    Ints = 7,
    /// <summary>Strings, in <see cref="OnnxAttribute.Strings"/>.</summary>
    Strings = 8,
    /// <summary>Tensors, in <see cref="OnnxAttribute.Tensors"/>.</summary>
    Tensors = 9,
    /// <summary>Subgraphs; their bodies are not read.</summary>
    Graphs = 10,
    /// <summary>A sparse tensor; its value is not read.</summary>
    SparseTensor = 11,
    /// <summary>Sparse tensors; their values are not read.</summary>
    SparseTensors = 12,
}

/// <summary>
/// A named attribute of a node. Only the field named by <see cref="Type"/> is meaningful; the others
/// hold their empty defaults, as in the file.
/// </summary>
public sealed record OnnxAttribute(
    string Name,
    OnnxAttributeType Type,
    float Float,
    long Int,
    string String,
    OnnxTensor? Tensor,
    IReadOnlyList<float> Floats,
    IReadOnlyList<long> Ints,
    IReadOnlyList<string> Strings,
    IReadOnlyList<OnnxTensor> Tensors);

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

/// <summary>One dimension of a declared shape: a fixed size or a symbolic name such as <c>batch_size</c>.</summary>
/// <param name="Value">The size, or null when the dimension is symbolic or unknown.</param>
/// <param name="Param">The symbolic name, or null when the dimension has a fixed size or is unknown.</param>
public readonly record struct OnnxDim(long? Value, string? Param)
{
    /// <summary>True when the dimension is named rather than fixed.</summary>
    public bool IsSymbolic => Param is not null;

    /// <inheritdoc/>
    public override string ToString() => Value?.ToString() ?? Param ?? "?";
}

/// <summary>A graph input, output or intermediate value with its declared type.</summary>
/// <param name="Name">The value's name.</param>
/// <param name="ElementType">The declared element type; <see cref="OnnxDataType.Undefined"/> when the file gives none or the value is not a tensor.</param>
/// <param name="Shape">The declared dimensions, or null when the file declares no shape (unknown rank).</param>
public sealed record OnnxValueInfo(string Name, OnnxDataType ElementType, IReadOnlyList<OnnxDim>? Shape)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: {ElementType}" + (Shape is null ? "" : $"[{string.Join(", ", Shape)}]");
}
