using System.Runtime.InteropServices;
using Google.Protobuf;
using Hybrid.Core.Nn.Formats.Onnx.Proto;
using Hybrid.Core.Nn.Formats.Onnx.Reader;

namespace Hybrid.Core.Nn.Formats.Onnx.Export;

/// <summary>Builds an ONNX graph: nodes named by module scope as torch.onnx names them (<c>/layer1/layer1.0/conv1/Conv</c>,
/// repeats numbered <c>Relu_1</c>), initializers, and the model's inputs and outputs; then writes the file atomically.</summary>
internal sealed class OnnxGraphWriter
{
    readonly GraphProto graph = new() { Name = "main_graph" };
    readonly Dictionary<string, int> nodeNames = new();
    readonly HashSet<string> initializers = [];
    int constants;

    /// <summary>Adds a node; returns its output names (<c>NODE_output_i</c>, or <paramref name="outputName"/> for a
    /// graph output).</summary>
    public string[] Node(string modulePath, string opType, IEnumerable<string> inputs, int outputs = 1, string? outputName = null,
        params AttributeProto[] attributes)
    {
        string name = $"{Scope(modulePath)}/{opType}";
        int seen = nodeNames.GetValueOrDefault(name);
        nodeNames[name] = seen + 1;
        if (seen > 0) name += $"_{seen}";
        var node = new NodeProto { Name = name, OpType = opType };
        node.Input.AddRange(inputs);
        var names = Enumerable.Range(0, outputs).Select(i => i == 0 && outputName is not null ? outputName : $"{name}_output_{i}").ToArray();
        node.Output.AddRange(names);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return names;
    }

    /// <summary>One-output <see cref="Node"/>.</summary>
    public string Single(string modulePath, string opType, IEnumerable<string> inputs, string? outputName, params AttributeProto[] attributes) =>
        Node(modulePath, opType, inputs, 1, outputName, attributes)[0];

    /// <summary>torch.onnx's scope: one segment per module, numbered children keeping their parent's name
    /// (<c>features.0.0</c> gives <c>/features/features.0/features.0.0</c>).</summary>
    static string Scope(string modulePath)
    {
        if (modulePath.Length == 0) return "";
        var parts = modulePath.Split('.');
        var segments = new List<string>();
        int named = 0;
        for (int i = 0; i < parts.Length; i++)
        {
            if (!parts[i].All(char.IsAsciiDigit)) named = i;
            segments.Add(string.Join('.', parts[named..(i + 1)]));
        }
        return "/" + string.Join('/', segments);
    }

    /// <summary>Adds an initializer holding <paramref name="tensor"/>'s elements under <paramref name="name"/> (once).</summary>
    public string Initializer(string name, Tensor tensor)
    {
        if (!initializers.Add(name)) return name;
        var proto = new TensorProto
        {
            Name = name,
            DataType = (int)(tensor.Dtype switch
            {
                ScalarType.Float32 => OnnxDataType.Float,
                ScalarType.Float64 => OnnxDataType.Double,
                _ => OnnxDataType.Int64,
            }),
            RawData = ByteString.CopyFrom(tensor.Storage switch
            {
                float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
                double[] d => MemoryMarshal.AsBytes(d.AsSpan()),
                long[] l => MemoryMarshal.AsBytes(l.AsSpan()),
                _ => throw new InvalidOperationException(),
            }),
        };
        proto.Dims.AddRange(tensor.ShapeRef.Select(d => (long)d));
        graph.Initializer.Add(proto);
        return name;
    }

    /// <summary>A constant the exporter needs (shapes, pads, scalars) as a fresh initializer.</summary>
    public string Constant(Tensor value) => Initializer($"onnx::Constant_{constants++}", value);

    public string Int64s(params long[] values) => Constant(new Tensor(values, [values.Length], Gpu.Device.Cpu));

    public string Scalar(float value) => Constant(new Tensor(new[] { value }, [], Gpu.Device.Cpu));

    /// <summary>Declares a float graph input or output; dimension 0 is the dynamic batch "N" when <paramref name="batched"/>.</summary>
    public void Value(bool input, string name, int[] shape, bool batched)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)OnnxDataType.Float, Shape = new TensorShapeProto() };
        for (int i = 0; i < shape.Length; i++)
            tensorType.Shape.Dim.Add(i == 0 && batched
                ? new TensorShapeProto.Types.Dimension { DimParam = "N" }
                : new TensorShapeProto.Types.Dimension { DimValue = shape[i] });
        var info = new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
        (input ? graph.Input : graph.Output).Add(info);
    }

    /// <summary>Writes the model to a temporary file beside <paramref name="path"/>, then renames it over the target,
    /// so a failed or interrupted export never leaves a partial file.</summary>
    public void Save(string path, int opset)
    {
        var model = new ModelProto
        {
            // IR 7 is what opset 13 shipped with; later opsets need IR 8.
            IrVersion = opset <= 13 ? 7 : 8,
            ProducerName = "hybrid",
            ProducerVersion = typeof(OnnxGraphWriter).Assembly.GetName().Version?.ToString() ?? "",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = File.Create(temp)) model.WriteTo(stream);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = (int)OnnxAttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = (int)OnnxAttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = (int)OnnxAttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = (int)OnnxAttributeType.String, S = ByteString.CopyFromUtf8(value) };
}
