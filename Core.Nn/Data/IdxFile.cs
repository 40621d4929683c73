using System.IO.Compression;

namespace Hybrid.Core.Nn.Data;

/// <summary>An array read from an IDX file (the format of MNIST and Fashion-MNIST), raw or gzip-compressed: a magic
/// number (two zero bytes, the element type, the number of dimensions), the dimensions as big-endian int32, then the
/// elements in big-endian row-major order.</summary>
public sealed class IdxFile
{
    /// <summary>The element types of the IDX format (the third byte of the magic number).</summary>
    public enum ElementType : byte
    {
        UInt8 = 0x08,
        Int8 = 0x09,
        Int16 = 0x0B,
        Int32 = 0x0C,
        Float32 = 0x0D,
        Float64 = 0x0E,
    }

    IdxFile() { }

    // The elements as stored: big-endian, Count x the element size.
    byte[] Data { get; init; } = [];

    /// <summary>The file it was read from.</summary>
    public required string Path { get; init; }

    /// <summary>The element type stored in the file.</summary>
    public required ElementType Type { get; init; }

    /// <summary>The dimensions, outermost first.</summary>
    public required IReadOnlyList<int> Shape { get; init; }

    /// <summary>Number of elements (the product of <see cref="Shape"/>).</summary>
    public int Count => Data.Length / ElementSize(Type);

    /// <summary>Reads and validates <paramref name="path"/> (gzip when it starts with the gzip signature). Every
    /// problem (missing or truncated file, bad magic, unknown type, a data length that disagrees with the
    /// dimensions) is one <see cref="InputException"/> naming the file.</summary>
    public static IdxFile Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            using var file = File.OpenRead(path);
            Span<byte> signature = stackalloc byte[2];
            int got = file.ReadAtLeast(signature, 2, throwOnEndOfStream: false);
            file.Position = 0;
            bool gzip = got == 2 && signature[0] == 0x1F && signature[1] == 0x8B;
            using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
            return Parse(path, stream, gzip ? null : file.Length);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InputException(path, "file not found", e);
        }
        catch (InvalidDataException e)
        {
            throw new InputException(path, $"corrupt gzip stream ({e.Message})", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new InputException(path, "permission denied", e);
        }
    }

    static IdxFile Parse(string path, Stream stream, long? rawLength)
    {
        Span<byte> magic = stackalloc byte[4];
        if (stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) < 4)
            throw new InputException(path, "truncated: shorter than the 4-byte IDX magic number");
        if (magic[0] != 0 || magic[1] != 0)
            throw new InputException(path, $"not an IDX file (magic starts 0x{magic[0]:X2}{magic[1]:X2}, expected 0x0000)");
        var type = (ElementType)magic[2];
        if (!Enum.IsDefined(type))
            throw new InputException(path, $"unknown IDX element type 0x{magic[2]:X2}");
        int rank = magic[3];
        if (rank is < 1 or > 8)
            throw new InputException(path, $"{rank} dimensions; IDX files here have 1 to 8");

        var header = new byte[4 * rank];
        if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length)
            throw new InputException(path, $"truncated: the header of {rank} dimensions is incomplete");
        var shape = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            shape[i] = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4 * i));
            if (shape[i] < 0) throw new InputException(path, $"dimension {i} is negative ({shape[i]})");
            count *= shape[i];
            if (count * ElementSize(type) > Array.MaxLength)
                throw new InputException(path, $"dimensions {string.Join(" x ", shape.Take(i + 1))} exceed the largest array .NET can hold");
        }

        long bytes = count * ElementSize(type);
        // A raw file must hold exactly the data its header promises; checking before allocating means a hostile
        // header cannot make us reserve gigabytes for a small file.
        long headerLength = 4 + 4L * rank;
        if (rawLength is { } length && length - headerLength != bytes)
            throw new InputException(path,
                $"data is {length - headerLength} bytes but dimensions {string.Join(" x ", shape)} of {type} need {bytes}");
        var data = new byte[bytes];
        int read = stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        if (read < data.Length)
            throw new InputException(path, $"truncated: {read} of {bytes} data bytes");
        if (stream.ReadByte() >= 0)
            throw new InputException(path, $"trailing bytes after the {bytes} data bytes of dimensions {string.Join(" x ", shape)}");
        return new IdxFile { Path = path, Type = type, Shape = shape, Data = data };
    }

    /// <summary>Every element converted to float32, each multiplied by <paramref name="scale"/> (e.g. 1/255 for pixels).</summary>
    public float[] ToFloat32(float scale = 1f)
    {
        var result = new float[Count];
        for (int i = 0; i < result.Length; i++) result[i] = (float)(Element(i) * scale);
        return result;
    }

    /// <summary>Every element as int64 (for labels); a fractional value is an error naming the element.</summary>
    public long[] ToInt64()
    {
        var result = new long[Count];
        for (int i = 0; i < result.Length; i++)
        {
            double value = Element(i);
            if (value != Math.Floor(value) || !double.IsFinite(value))
                throw new InputException(Path, $"element {i} is {value}, not an integer label");
            result[i] = (long)value;
        }
        return result;
    }

    double Element(int i) => Type switch
    {
        ElementType.UInt8 => Data[i],
        ElementType.Int8 => (sbyte)Data[i],
        ElementType.Int16 => BinaryPrimitives.ReadInt16BigEndian(Data.AsSpan(2 * i)),
        ElementType.Int32 => BinaryPrimitives.ReadInt32BigEndian(Data.AsSpan(4 * i)),
        ElementType.Float32 => BinaryPrimitives.ReadSingleBigEndian(Data.AsSpan(4 * i)),
        _ => BinaryPrimitives.ReadDoubleBigEndian(Data.AsSpan(8 * i)),
    };

    static int ElementSize(ElementType type) => type switch
    {
        ElementType.UInt8 or ElementType.Int8 => 1,
        ElementType.Int16 => 2,
        ElementType.Int32 or ElementType.Float32 => 4,
        _ => 8,
    };
}
