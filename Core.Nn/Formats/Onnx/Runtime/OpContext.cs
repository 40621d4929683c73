using Hybrid.Core.Gpu;
using Hybrid.Core.Nn.Formats.Onnx.Reader;

namespace Hybrid.Core.Nn.Formats.Onnx.Runtime;

/// <summary>A compiled operator: the node's input values (null for an omitted optional input) to its output values.</summary>
internal delegate Tensor[] Kernel(Tensor?[] inputs);

/// <summary>A problem with one node; the session adds the file and the node's name and type.</summary>
internal sealed class OnnxOpException(string problem) : Exception(problem);

/// <summary>What an operator sees while it is compiled: its node's attributes, the model's opset and the device, with
/// typed readers that fail with the attribute's name.</summary>
internal sealed class OpContext(OnnxNode node, long opset, Device device)
{
    public OnnxNode Node { get; } = node;

    /// <summary>The model's version of the standard operator set (semantics of Softmax, Slice, Pad, ... depend on it).</summary>
    public long Opset { get; } = opset;

    public Device Device { get; } = device;

    public static OnnxOpException Fail(string problem) => new(problem);

    public long Int(string name, long fallback) => Node.Int(name, fallback);

    public float Float(string name, float fallback) => Node.Float(name, fallback);

    public long[]? Ints(string name) => Node.Ints(name)?.ToArray();

    public string String(string name, string fallback) =>
        Node.Attributes.TryGetValue(name, out var a) && a.Type == OnnxAttributeType.String ? a.String : fallback;

    public OnnxTensor? TensorAttribute(string name) =>
        Node.Attributes.TryGetValue(name, out var a) && a.Type == OnnxAttributeType.Tensor ? a.Tensor : null;

    /// <summary>Refuses <c>auto_pad</c> other than NOTSET (explicit pads) and VALID (no padding).</summary>
    public void RequireExplicitPads()
    {
        string autoPad = String("auto_pad", "NOTSET");
        if (autoPad is not ("NOTSET" or "VALID" or ""))
            throw Fail($"auto_pad {autoPad} is not supported (only NOTSET with explicit pads, or VALID)");
    }

    /// <summary>Refuses optional outputs past the first <paramref name="count"/> (training statistics, pool indices).</summary>
    public void RequireOutputs(int count)
    {
        for (int i = count; i < Node.Outputs.Count; i++)
            if (Node.Outputs[i].Length > 0)
                throw Fail($"output {i} ('{Node.Outputs[i]}') is not supported (only inference outputs are computed)");
    }

    /// <summary>Input <paramref name="index"/>, which must be present.</summary>
    public static Tensor Required(Tensor?[] inputs, int index, string name) =>
        index < inputs.Length && inputs[index] is { } t ? t : throw Fail($"input {index} ({name}) is missing");

    /// <summary>Input <paramref name="index"/> as float32.</summary>
    public static Tensor Float32(Tensor?[] inputs, int index, string name)
    {
        var t = Required(inputs, index, name);
        return t.Dtype == ScalarType.Float32 ? t : throw Fail($"input {index} ({name}) must be float32, not {t.Dtype} {ShapeOps.Format(t.ShapeRef)}");
    }

    /// <summary>An optional int64 input as values, or null when omitted (axes, steps, pads).</summary>
    public static long[]? OptionalInt64(Tensor?[] inputs, int index, string name)
    {
        if (index >= inputs.Length || inputs[index] is not { } t) return null;
        return t.Dtype == ScalarType.Int64 ? t.I64 : throw Fail($"input {index} ({name}) must be int64, not {t.Dtype}");
    }

    public static long[] Int64(Tensor?[] inputs, int index, string name) =>
        OptionalInt64(inputs, index, name) ?? throw Fail($"input {index} ({name}) is missing");

    /// <summary>An axis in [0, rank) from ONNX's convention where negative axes count from the end.</summary>
    public static int Axis(long axis, int rank)
    {
        long a = axis < 0 ? axis + rank : axis;
        return a >= 0 && a < rank ? (int)a : throw Fail($"axis {axis} is out of range for rank {rank}");
    }

    /// <summary>A shape from int64 values, checked to fit storage.</summary>
    public static int[] Shape(long[] dims)
    {
        var shape = new int[dims.Length];
        for (int i = 0; i < dims.Length; i++)
            shape[i] = dims[i] is >= 0 and <= int.MaxValue ? (int)dims[i] : throw Fail($"dimension {dims[i]} in shape [{string.Join(", ", dims)}] is out of range");
        return shape;
    }

    /// <summary>An attribute-or-input list that ONNX moved from attributes to inputs at <paramref name="inputSince"/>.</summary>
    public long[]? AttributeOrInput(string attribute, Tensor?[] inputs, int index, long inputSince) =>
        Opset >= inputSince ? OptionalInt64(inputs, index, attribute) : Ints(attribute);
}
