using Hybrid.Core.Gpu;
using Hybrid.Core.Nn.Formats.Onnx.Reader;

namespace Hybrid.Core.Nn.Formats.Onnx.Runtime;

/// <summary>Conversions between ONNX tensors and session values: floating-point types become float32 tensors, integer
/// and bool types int64 tensors (the two element types the session computes with).</summary>
internal static class OnnxValues
{
    /// <summary>The session's element type for an ONNX type, or null when it has none.</summary>
    public static ScalarType? SessionType(OnnxDataType type) => type switch
    {
        OnnxDataType.Float or OnnxDataType.Double or OnnxDataType.Float16 or OnnxDataType.BFloat16 => ScalarType.Float32,
        OnnxDataType.Int64 or OnnxDataType.Int32 or OnnxDataType.Int16 or OnnxDataType.Int8 or OnnxDataType.UInt8
            or OnnxDataType.UInt16 or OnnxDataType.UInt32 or OnnxDataType.Bool => ScalarType.Int64,
        _ => null,
    };

    /// <summary>An initializer as a tensor; one without data (external or left out) is refused naming it.</summary>
    public static Tensor FromInitializer(string path, OnnxTensor tensor, Device device)
    {
        if (!tensor.HasData)
            throw new InputException(path, $"initializer '{tensor.Name}' has no data in the file" + (tensor.External is { } e
                ? $" (its weights are stored externally in '{e.Location}', which this session does not read)"
                : " (the model was exported without weights; pass it as an input instead)"));
        try
        {
            return FromTensor(tensor, device);
        }
        catch (OnnxOpException e)
        {
            throw new InputException(path, $"initializer '{tensor.Name}': {e.Message}", e);
        }
    }

    /// <summary>An ONNX tensor (initializer or attribute value) as a session value.</summary>
    public static Tensor FromTensor(OnnxTensor tensor, Device device)
    {
        var shape = OpContext.Shape(tensor.Shape.ToArray());
        return SessionType(tensor.DataType) switch
        {
            ScalarType.Float32 => new Tensor(tensor.ToFloat32(), shape, device),
            ScalarType.Int64 => new Tensor(tensor.ToInt64(), shape, device),
            _ => throw OpContext.Fail($"element type {tensor.DataType} is not supported (float and integer types are)"),
        };
    }

    /// <summary>Checks a fed tensor against its declared input: element type, rank and every fixed dimension.</summary>
    public static void CheckFeed(OnnxValueInfo info, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor, info.Name);
        var expected = SessionType(info.ElementType);
        bool shapeFits = info.Shape is not { } dims || (dims.Count == tensor.Dim &&
            dims.Select((d, i) => d.Value is not { } v || v == tensor.ShapeRef[i]).All(ok => ok));
        if ((expected is { } type && type != tensor.Dtype) || !shapeFits)
            throw new ArgumentException(
                $"input '{info.Name}' must be {(expected is { } t ? t.ToString() : info.ElementType.ToString())} " +
                $"[{string.Join(", ", info.Shape ?? [])}], not {tensor.Dtype} {ShapeOps.Format(tensor.ShapeRef)}", "feeds");
    }
}
