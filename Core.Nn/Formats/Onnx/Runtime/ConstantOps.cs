using Hybrid.Core.Nn.Formats.Onnx.Reader;

namespace Hybrid.Core.Nn.Formats.Onnx.Runtime;

/// <summary>Ops that make values rather than transform them: Constant, ConstantOfShape, Shape and Cast. They run on the
/// host, and a session computes them once when their inputs are constant.</summary>
internal static class ConstantOps
{
    /// <summary>The value from whichever of value, value_float(s) and value_int(s) the node carries.</summary>
    public static Kernel Constant(OpContext c)
    {
        var attribute = c.Node.Attributes.Values.SingleOrDefault()
            ?? throw OpContext.Fail("needs exactly one value attribute");
        var device = c.Device;
        Tensor value = attribute.Name switch
        {
            "value" when attribute.Tensor is { } t => t.HasData ? OnnxValues.FromTensor(t, device) : throw OpContext.Fail("the value tensor holds no data"),
            "value_float" => new Tensor(new[] { attribute.Float }, [], device),
            "value_floats" => new Tensor(attribute.Floats.ToArray(), [attribute.Floats.Count], device),
            "value_int" => new Tensor(new[] { attribute.Int }, [], device),
            "value_ints" => new Tensor(attribute.Ints.ToArray(), [attribute.Ints.Count], device),
            _ => throw OpContext.Fail($"attribute '{attribute.Name}' is not supported (value, value_float(s) and value_int(s) are)"),
        };
        return _ => [value];
    }

    /// <summary>A tensor of the input's shape filled with the one element of the value attribute (default float 0).</summary>
    public static Kernel ConstantOfShape(OpContext c)
    {
        var attribute = c.TensorAttribute("value");
        var fill = attribute is null ? new Tensor(new float[1], [1], c.Device) : OnnxValues.FromTensor(attribute, c.Device);
        if (fill.Numel != 1) throw OpContext.Fail($"value must hold one element, not {fill.Numel}");
        return inputs =>
        {
            var shape = OpContext.Shape(OpContext.Int64(inputs, 0, "input"));
            return [Tensor.Full(fill.Item(), fill.Dtype, c.Device, shape)];
        };
    }

    /// <summary>The input's shape as int64, optionally cut to dimensions [start, end) (opset 15).</summary>
    public static Kernel Shape(OpContext c)
    {
        long start = c.Int("start", 0), end = c.Int("end", long.MaxValue);
        return inputs =>
        {
            var s = OpContext.Required(inputs, 0, "data").ShapeRef;
            int from = (int)Math.Clamp(start < 0 ? start + s.Length : start, 0, s.Length);
            int to = (int)Math.Clamp(end < 0 ? end + s.Length : end, 0, s.Length);
            return [HostOps.Int64Vector(s[from..Math.Max(from, to)].Select(d => (long)d).ToArray(), c.Device)];
        };
    }

    /// <summary>To a floating-point type: float32; to an integer type: int64 (truncating toward zero); to bool: 0 or 1.</summary>
    public static Kernel Cast(OpContext c)
    {
        var to = (OnnxDataType)c.Int("to", 0);
        var type = OnnxValues.SessionType(to) ?? throw OpContext.Fail($"casting to {to} is not supported");
        return inputs =>
        {
            var x = OpContext.Required(inputs, 0, "input");
            if (to == OnnxDataType.Bool)
                return [new Tensor(x.ToDoubleArray().Select(v => v != 0 ? 1L : 0L).ToArray(), x.Shape, x.Device)];
            return [x.Dtype == type ? x : x.To(type)];
        };
    }
}
