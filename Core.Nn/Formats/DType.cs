namespace Hybrid.Core.Nn.Formats;

/// <summary>Element types a safetensors file may hold that this toolkit reads and writes.</summary>
/// <remarks>
/// The names follow the safetensors header strings (<c>Bool</c> is written <c>"BOOL"</c>). The format has
/// more types (I8, I16, U16, the F8 variants); none occurs in the checkpoints we reuse, so a file holding
/// one is rejected when opened rather than half-supported.
/// </remarks>
public enum DType
{
    /// <summary>IEEE 754 single precision.</summary>
    F32,
    /// <summary>IEEE 754 half precision.</summary>
    F16,
    /// <summary>bfloat16: the upper 16 bits of an IEEE 754 single.</summary>
    BF16,
    /// <summary>IEEE 754 double precision.</summary>
    F64,
    /// <summary>Signed 64-bit integer (PyTorch's <c>num_batches_tracked</c>, index tensors).</summary>
    I64,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Unsigned byte.</summary>
    U8,
    /// <summary>One byte per element, 0 for false and 1 for true.</summary>
    Bool,
}

/// <summary>Sizes, header names and categories of <see cref="DType"/> values.</summary>
public static class DTypeInfo
{
    /// <summary>The size of one element in bytes.</summary>
    public static int ElementSize(this DType dtype) => dtype switch
    {
        DType.F64 or DType.I64 => 8,
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 => 2,
        DType.U8 or DType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a DType value"),
    };

    /// <summary>The string that names this type in a safetensors header, e.g. <c>"BF16"</c> or <c>"BOOL"</c>.</summary>
    public static string HeaderName(this DType dtype) => dtype switch
    {
        DType.Bool => "BOOL",
        DType.F32 or DType.F16 or DType.BF16 or DType.F64 or DType.I64 or DType.I32 or DType.U8 => dtype.ToString(),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a DType value"),
    };

    /// <summary>True for F32, F16, BF16 and F64.</summary>
    public static bool IsFloatingPoint(this DType dtype) =>
        dtype is DType.F32 or DType.F16 or DType.BF16 or DType.F64;

    /// <summary>
    /// Parses a header dtype string. Matching is exact, as in the reference implementation, so
    /// <c>"f32"</c> is not accepted.
    /// </summary>
    public static bool TryParseHeaderName(string name, out DType dtype)
    {
        foreach (var candidate in All)
        {
            if (candidate.HeaderName() == name)
            {
                dtype = candidate;
                return true;
            }
        }
        dtype = default;
        return false;
    }

    /// <summary>Every supported type, in declaration order.</summary>
    public static IReadOnlyList<DType> All { get; } = Enum.GetValues<DType>();
}
