using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Hybrid.Core.Nn.Formats;

/// <summary>
/// Converts raw little-endian tensor bytes into .NET arrays and back. Data in a file need not be aligned
/// (the format only aligns the header), so elements are read with unaligned loads, never reinterpreted.
/// </summary>
internal static class ElementConversion
{
    /// <summary>
    /// The format is little-endian and so are all hosts .NET supports today; checking once here lets the
    /// conversions read elements in host order.
    /// </summary>
    public static void RequireLittleEndianHost()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors I/O needs a little-endian host");
    }

    /// <summary>
    /// Converts every element of <paramref name="source"/>, stored as <paramref name="dtype"/>, into
    /// <paramref name="target"/>. Narrowing conversions that cannot hold a value throw
    /// <see cref="OverflowException"/>; float targets round to nearest.
    /// </summary>
    public static void Convert<TTarget>(ReadOnlySpan<byte> source, DType dtype, Span<TTarget> target)
        where TTarget : unmanaged, INumberBase<TTarget>
    {
        switch (dtype)
        {
            case DType.F32: Each<float, TTarget>(source, target); break;
            case DType.F16: Each<Half, TTarget>(source, target); break;
            case DType.F64: Each<double, TTarget>(source, target); break;
            case DType.I64: Each<long, TTarget>(source, target); break;
            case DType.I32: Each<int, TTarget>(source, target); break;
            case DType.U8: Each<byte, TTarget>(source, target); break;
            case DType.Bool:
                // Any non-zero byte reads as true, as numpy and PyTorch treat it.
                for (int i = 0; i < target.Length; i++)
                    target[i] = source[i] != 0 ? TTarget.One : TTarget.Zero;
                break;
            case DType.BF16:
                for (int i = 0; i < target.Length; i++)
                    target[i] = TTarget.CreateChecked(BFloat16.ToSingle(MemoryMarshal.Read<ushort>(source[(2 * i)..])));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a DType value");
        }
    }

    static void Each<TSource, TTarget>(ReadOnlySpan<byte> source, Span<TTarget> target)
        where TSource : unmanaged, INumberBase<TSource>
        where TTarget : unmanaged, INumberBase<TTarget>
    {
        // Same type: a byte copy, which is what makes reading F32 weights as fast as the disk allows.
        if (typeof(TSource) == typeof(TTarget))
        {
            source.CopyTo(MemoryMarshal.AsBytes(target));
            return;
        }
        int size = Unsafe.SizeOf<TSource>();
        for (int i = 0; i < target.Length; i++)
            target[i] = TTarget.CreateChecked(MemoryMarshal.Read<TSource>(source[(size * i)..]));
    }

    /// <summary>The little-endian bytes of <paramref name="values"/>, one copy.</summary>
    public static byte[] ToBytes<T>(ReadOnlySpan<T> values) where T : unmanaged =>
        MemoryMarshal.AsBytes(values).ToArray();
}

/// <summary>bfloat16 bit patterns: the top half of an IEEE single, with .NET's float as the carrier type.</summary>
internal static class BFloat16
{
    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>Rounds to the nearest bfloat16, ties to even (what PyTorch's <c>.bfloat16()</c> does).</summary>
    public static ushort FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        // Truncating a NaN could clear every mantissa bit and leave an infinity; force it to stay quiet NaN.
        if (float.IsNaN(value))
            return (ushort)((bits >> 16) | 0x0040);
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }
}
