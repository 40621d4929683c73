namespace Hybrid.Core.Nn.Formats.PyTorch;

/// <summary>The CRC-32 of zip archives (ISO-HDLC, reflected polynomial 0xEDB88320), slicing by 8 bytes: the BCL has
/// only CRC-32C in hardware, and checkpoint storages run to gigabytes, so a byte-at-a-time table would dominate saving.</summary>
internal static class Crc32
{
    static readonly uint[][] Tables = BuildTables();

    static uint[][] BuildTables()
    {
        var tables = new uint[8][];
        for (int t = 0; t < 8; t++)
            tables[t] = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint crc = i;
            for (int bit = 0; bit < 8; bit++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            tables[0][i] = crc;
        }
        for (int i = 0; i < 256; i++)
            for (int t = 1; t < 8; t++)
                tables[t][i] = (tables[t - 1][i] >> 8) ^ tables[0][tables[t - 1][i] & 0xFF];
        return tables;
    }

    /// <summary>The CRC-32 of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        uint[] t0 = Tables[0], t1 = Tables[1], t2 = Tables[2], t3 = Tables[3],
            t4 = Tables[4], t5 = Tables[5], t6 = Tables[6], t7 = Tables[7];
        int i = 0;
        for (; i + 8 <= data.Length; i += 8)
        {
            uint low = BinaryPrimitives.ReadUInt32LittleEndian(data[i..]) ^ crc;
            uint high = BinaryPrimitives.ReadUInt32LittleEndian(data[(i + 4)..]);
            crc = t7[low & 0xFF] ^ t6[(low >> 8) & 0xFF] ^ t5[(low >> 16) & 0xFF] ^ t4[low >> 24]
                ^ t3[high & 0xFF] ^ t2[(high >> 8) & 0xFF] ^ t1[(high >> 16) & 0xFF] ^ t0[high >> 24];
        }
        for (; i < data.Length; i++)
            crc = (crc >> 8) ^ t0[(crc ^ data[i]) & 0xFF];
        return ~crc;
    }
}
