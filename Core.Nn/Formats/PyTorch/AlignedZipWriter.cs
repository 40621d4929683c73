using System.Text;

namespace Hybrid.Core.Nn.Formats.PyTorch;

/// <summary>
/// Writes a zip archive of stored (uncompressed) entries whose data starts on a 64-byte boundary, as PyTorch's
/// <c>PyTorchStreamWriter</c> does so that loaders can map storages in place: the local header of each entry carries an
/// extra field <c>"FB"</c> filled with <c>'Z'</c> up to the boundary. Sizes and offsets from <c>zip64Threshold</c> on
/// (4 GiB in a real archive) are written in zip64 extra fields and records.
/// </summary>
internal sealed class AlignedZipWriter(Stream stream, long zip64Threshold = uint.MaxValue)
{
    const int Alignment = 64;
    const uint Unknown32 = 0xFFFFFFFF;
    const ushort DosDate1980 = (0 << 9) | (1 << 5) | 1;
    const ushort Utf8Names = 1 << 11;
    const ushort Version20 = 20, Version45 = 45;

    readonly List<(byte[] Name, uint Crc, long Size, long Offset)> entries = [];

    /// <summary>Appends entry <paramref name="name"/> holding <paramref name="data"/>.</summary>
    public void Add(string name, ReadOnlySpan<byte> data)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        long offset = stream.Position;
        uint crc = Crc32.Compute(data);
        bool bigSize = data.Length >= zip64Threshold;
        int zip64Length = bigSize ? 4 + 16 : 0;
        long dataStart = offset + 30 + nameBytes.Length + zip64Length + 4;
        int padding = (int)((Alignment - dataStart % Alignment) % Alignment);

        var header = new Header(30 + nameBytes.Length + zip64Length + 4 + padding);
        header.U32(0x04034b50).U16(bigSize ? Version45 : Version20).U16(Utf8Names).U16(0).U16(0).U16(DosDate1980)
            .U32(crc).U32(bigSize ? Unknown32 : (uint)data.Length).U32(bigSize ? Unknown32 : (uint)data.Length)
            .U16((ushort)nameBytes.Length).U16((ushort)(zip64Length + 4 + padding)).Bytes(nameBytes);
        if (bigSize)
            header.U16(0x0001).U16(16).U64((ulong)data.Length).U64((ulong)data.Length);
        header.U16('F' | ('B' << 8)).U16((ushort)padding).Fill((byte)'Z', padding);
        stream.Write(header.Span);
        stream.Write(data);
        entries.Add((nameBytes, crc, data.Length, offset));
    }

    /// <summary>Writes the central directory and the end records; the archive is complete after this.</summary>
    public void Finish()
    {
        long directoryStart = stream.Position;
        bool anyZip64 = false;
        foreach (var (name, crc, size, offset) in entries)
        {
            bool bigSize = size >= zip64Threshold, bigOffset = offset >= zip64Threshold;
            int zip64Length = (bigSize ? 16 : 0) + (bigOffset ? 8 : 0);
            int extraLength = zip64Length > 0 ? 4 + zip64Length : 0;
            anyZip64 |= extraLength > 0;
            ushort version = extraLength > 0 ? Version45 : Version20;
            var header = new Header(46 + name.Length + extraLength);
            header.U32(0x02014b50).U16(version).U16(version).U16(Utf8Names).U16(0).U16(0).U16(DosDate1980).U32(crc)
                .U32(bigSize ? Unknown32 : (uint)size).U32(bigSize ? Unknown32 : (uint)size)
                .U16((ushort)name.Length).U16((ushort)extraLength).U16(0).U16(0).U16(0).U32(0)
                .U32(bigOffset ? Unknown32 : (uint)offset).Bytes(name);
            if (extraLength > 0)
            {
                header.U16(0x0001).U16((ushort)zip64Length);
                if (bigSize) header.U64((ulong)size).U64((ulong)size);
                if (bigOffset) header.U64((ulong)offset);
            }
            stream.Write(header.Span);
        }
        long directorySize = stream.Position - directoryStart;
        bool zip64End = anyZip64 || entries.Count >= 0xFFFF || directoryStart >= zip64Threshold || directorySize >= zip64Threshold;
        if (zip64End)
        {
            long recordStart = stream.Position;
            var record = new Header(56 + 20);
            record.U32(0x06064b50).U64(44).U16(Version45).U16(Version45).U32(0).U32(0)
                .U64((ulong)entries.Count).U64((ulong)entries.Count).U64((ulong)directorySize).U64((ulong)directoryStart)
                .U32(0x07064b50).U32(0).U64((ulong)recordStart).U32(1);
            stream.Write(record.Span);
        }
        var end = new Header(22);
        end.U32(0x06054b50).U16(0).U16(0)
            .U16(zip64End ? (ushort)0xFFFF : (ushort)entries.Count).U16(zip64End ? (ushort)0xFFFF : (ushort)entries.Count)
            .U32(zip64End ? Unknown32 : (uint)directorySize).U32(zip64End ? Unknown32 : (uint)directoryStart).U16(0);
        stream.Write(end.Span);
    }

    /// <summary>A little-endian record builder over a buffer of the record's exact size.</summary>
    sealed class Header(int length)
    {
        readonly byte[] buffer = new byte[length];
        int at;

        public ReadOnlySpan<byte> Span => buffer.AsSpan(0, at);

        public Header U16(int value)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(at), (ushort)value);
            at += 2;
            return this;
        }

        public Header U32(uint value)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(at), value);
            at += 4;
            return this;
        }

        public Header U64(ulong value)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(at), value);
            at += 8;
            return this;
        }

        public Header Bytes(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(buffer.AsSpan(at));
            at += bytes.Length;
            return this;
        }

        public Header Fill(byte value, int count)
        {
            buffer.AsSpan(at, count).Fill(value);
            at += count;
            return this;
        }
    }
}
