using Google.Protobuf;
using Hybrid.Core.Nn.Formats.Onnx.Proto;

namespace Hybrid.Core.Nn.Formats.Onnx.Reader;

/// <summary>
/// An ONNX model read into memory: the main graph's nodes, initializers, inputs and outputs, and the
/// operator sets it imports. Weights stored externally or left out (<c>export_params=False</c>) do not
/// stop the graph from loading: their initializers have no <see cref="OnnxTensor.Data"/>, or they are
/// graph inputs without an initializer.
/// </summary>
public sealed class OnnxModel
{
    /// <summary>The default domain name; the empty string means the same.</summary>
    const string StandardDomain = "ai.onnx";

    OnnxModel(string path, ModelProto proto)
    {
        Path = path;
        var graph = proto.Graph ?? throw new InputException(path, "the model has no graph");
        IrVersion = proto.IrVersion;
        ProducerName = proto.ProducerName;
        ProducerVersion = proto.ProducerVersion;
        GraphName = graph.Name;

        var opsets = new Dictionary<string, long>();
        foreach (var opset in proto.OpsetImport)
        {
            string domain = opset.Domain == StandardDomain ? "" : opset.Domain;
            if (!opsets.TryAdd(domain, opset.Version))
                throw new InputException(path, $"operator set '{opset.Domain}' is imported twice");
        }
        OperatorSets = opsets;

        Nodes = graph.Node.Select(n => Node(path, n)).ToArray();
        var initializers = new Dictionary<string, OnnxTensor>();
        foreach (var tensor in graph.Initializer)
        {
            if (!initializers.TryAdd(tensor.Name, TensorDecoder.Decode(path, tensor)))
                throw new InputException(path, $"initializer '{tensor.Name}' appears twice");
        }
        Initializers = initializers;
        Inputs = graph.Input.Select(ValueInfo).ToArray();
        Outputs = graph.Output.Select(ValueInfo).ToArray();
        ValueInfos = graph.ValueInfo.Select(ValueInfo).ToArray();
    }

    /// <summary>The file the model was read from, as the caller named it.</summary>
    public string Path { get; }

    /// <summary>The IR version the file declares.</summary>
    public long IrVersion { get; }

    /// <summary>The exporting tool, e.g. <c>pytorch</c>.</summary>
    public string ProducerName { get; }

    /// <summary>The exporting tool's version.</summary>
    public string ProducerVersion { get; }

    /// <summary>The main graph's name.</summary>
    public string GraphName { get; }

    /// <summary>Imported operator set versions by domain; the standard domain is the empty string.</summary>
    public IReadOnlyDictionary<string, long> OperatorSets { get; }

    /// <summary>The version of the standard (<c>ai.onnx</c>) operator set, or 0 when the model imports none.</summary>
    public long Opset => OperatorSets.GetValueOrDefault("");

    /// <summary>The nodes in file order, which the specification requires to be topological.</summary>
    public IReadOnlyList<OnnxNode> Nodes { get; }

    /// <summary>Constant tensors of the graph by name, in file order.</summary>
    public IReadOnlyDictionary<string, OnnxTensor> Initializers { get; }

    /// <summary>The graph's declared inputs, including any that initializers give defaults to.</summary>
    public IReadOnlyList<OnnxValueInfo> Inputs { get; }

    /// <summary>The graph's declared outputs.</summary>
    public IReadOnlyList<OnnxValueInfo> Outputs { get; }

    /// <summary>Types of intermediate values, where the exporter recorded them.</summary>
    public IReadOnlyList<OnnxValueInfo> ValueInfos { get; }

    /// <summary>
    /// Reads the model at <paramref name="path"/>. Any problem (missing file, truncated or corrupted
    /// protobuf, a tensor whose data and shape disagree) throws one <see cref="InputException"/> naming the file.
    /// </summary>
    public static OnnxModel Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        try
        {
            // Protobuf messages are limited to 2 GiB; larger models must use external data.
            var info = new FileInfo(path);
            if (info.Exists && info.Length > int.MaxValue)
                throw new InputException(path, $"{info.Length} bytes is over the 2 GiB protobuf limit (large models store weights as external data)");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException(path, e.Message, e);
        }
        return Parse(path, bytes);
    }

    /// <summary>Reads a model from <paramref name="bytes"/>; <paramref name="path"/> only names it in errors.</summary>
    public static OnnxModel Parse(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ModelProto proto;
        try
        {
            // Parsing a byte array is bounded by its length, and nesting by the parser's recursion
            // limit, so corrupted input ends in an exception, never a hang.
            proto = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InputException(path, $"not a valid ONNX protobuf: {e.Message}", e);
        }
        return new OnnxModel(path, proto);
    }

    static OnnxNode Node(string path, NodeProto node)
    {
        var attributes = new Dictionary<string, OnnxAttribute>();
        foreach (var a in node.Attribute)
        {
            var attribute = new OnnxAttribute(
                a.Name,
                (OnnxAttributeType)a.Type,
                a.F,
                a.I,
                a.S.ToStringUtf8(),
                a.T is null ? null : TensorDecoder.Decode(path, a.T),
                a.Floats.ToArray(),
                a.Ints.ToArray(),
                a.Strings.Select(s => s.ToStringUtf8()).ToArray(),
                a.Tensors.Select(t => TensorDecoder.Decode(path, t)).ToArray());
            if (!attributes.TryAdd(a.Name, attribute))
                throw new InputException(path, $"node '{node.Name}' ({node.OpType}) has attribute '{a.Name}' twice");
        }
        return new OnnxNode(node.Name, node.OpType, node.Domain == StandardDomain ? "" : node.Domain,
            node.Input.ToArray(), node.Output.ToArray(), attributes);
    }

    static OnnxValueInfo ValueInfo(ValueInfoProto value)
    {
        var tensor = value.Type?.TensorType;
        if (tensor is null) return new OnnxValueInfo(value.Name, OnnxDataType.Undefined, null);
        var shape = tensor.Shape?.Dim.Select(d => d.ValueCase switch
        {
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => new OnnxDim(d.DimValue, null),
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => new OnnxDim(null, d.DimParam),
            _ => new OnnxDim(null, null),
        }).ToArray();
        return new OnnxValueInfo(value.Name, (OnnxDataType)tensor.ElemType, shape);
    }
}
