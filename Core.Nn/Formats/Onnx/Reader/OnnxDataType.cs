namespace Hybrid.Core.Nn.Formats.Onnx.Reader;

/// <summary>Element types of ONNX tensors, numbered as <c>TensorProto.DataType</c> in the ONNX specification.</summary>
public enum OnnxDataType
{
    /// <summary>Not set; invalid for a tensor that holds data.</summary>
    Undefined = 0,
    /// <summary>IEEE 754 single precision.</summary>
    Float = 1,
    /// <summary>Unsigned byte.</summary>
    UInt8 = 2,
    /// <summary>Signed byte.</summary>
    Int8 = 3,
    /// <summary>Unsigned 16-bit integer.</summary>
    UInt16 = 4,
    /// <summary>Signed 16-bit integer.</summary>
    Int16 = 5,
    /// <summary>Signed 32-bit integer.</summary>
    Int32 = 6,
    /// <summary>Signed 64-bit integer.</summary>
    Int64 = 7,
    /// <summary>UTF-8 strings; their values are not decoded by this reader.</summary>
    String = 8,
    /// <summary>One byte per element, 0 or 1.</summary>
    Bool = 9,
    /// <summary>IEEE 754 half precision.</summary>
    Float16 = 10,
    /// <summary>IEEE 754 double precision.</summary>
    Double = 11,
    /// <summary>Unsigned 32-bit integer.</summary>
    UInt32 = 12,
    /// <summary>Unsigned 64-bit integer.</summary>
    UInt64 = 13,
    /// <summary>Two float32 values (real, imaginary) per element.</summary>
    Complex64 = 14,
    /// <summary>Two float64 values (real, imaginary) per element.</summary>
    Complex128 = 15,
    /// <summary>bfloat16: the upper 16 bits of an IEEE 754 single.</summary>
    BFloat16 = 16,
}

/// <summary>Sizes and safetensors equivalents of <see cref="OnnxDataType"/> values.</summary>
public static class OnnxDataTypeInfo
{
    /// <summary>
    /// The size of one element in <c>raw_data</c> in bytes; 0 for <see cref="OnnxDataType.String"/>,
    /// <see cref="OnnxDataType.Undefined"/> and numbers outside the specification, whose data is not decoded.
    /// </summary>
    public static int ElementSize(this OnnxDataType type) => type switch
    {
        OnnxDataType.UInt8 or OnnxDataType.Int8 or OnnxDataType.Bool => 1,
        OnnxDataType.UInt16 or OnnxDataType.Int16 or OnnxDataType.Float16 or OnnxDataType.BFloat16 => 2,
        OnnxDataType.Float or OnnxDataType.Int32 or OnnxDataType.UInt32 => 4,
        OnnxDataType.Int64 or OnnxDataType.Double or OnnxDataType.UInt64 or OnnxDataType.Complex64 => 8,
        OnnxDataType.Complex128 => 16,
        _ => 0,
    };

    /// <summary>The safetensors type with the same bytes, or null where safetensors (as this toolkit reads it) has none.</summary>
    public static DType? ToDType(this OnnxDataType type) => type switch
    {
        OnnxDataType.Float => DType.F32,
        OnnxDataType.Float16 => DType.F16,
        OnnxDataType.BFloat16 => DType.BF16,
        OnnxDataType.Double => DType.F64,
        OnnxDataType.Int64 => DType.I64,
        OnnxDataType.Int32 => DType.I32,
        OnnxDataType.UInt8 => DType.U8,
        OnnxDataType.Bool => DType.Bool,
        _ => null,
    };
}
