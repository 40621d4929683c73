namespace Hybrid.Core.Nn.Formats.Onnx.Reader;

/// <summary>Kinds of ONNX attribute values, numbered as <c>AttributeProto.AttributeType</c> (this is the only copy of
/// that numbering: onnx.proto reads the field as the int32 it is on the wire).</summary>
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
