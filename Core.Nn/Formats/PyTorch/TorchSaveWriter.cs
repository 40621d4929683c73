using System.Runtime.InteropServices;
using System.Text;

namespace Hybrid.Core.Nn.Formats.PyTorch;

/// <summary>
/// Writes a state dict the way <c>torch.save(state_dict, f)</c> does in its zip format: <c>archive/data.pkl</c>, a
/// protocol-2 pickle of a <c>collections.OrderedDict</c> whose values are
/// <c>torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())</c> with each storage a persistent
/// id <c>('storage', torch.FloatStorage | DoubleStorage | LongStorage, key, 'cpu', numel)</c>; <c>archive/byteorder</c>
/// (<c>little</c>); <c>archive/data/KEY</c> with each storage's raw little-endian elements; <c>archive/version</c>
/// (<c>3</c>). Entries are stored uncompressed and 64-byte aligned, as torch does.
/// </summary>
internal static class TorchSaveWriter
{
    const string Archive = "archive/";

    // pickle.py batches SETITEMS by this many items.
    const int Batch = 1000;

    public static void Write(Stream stream, IReadOnlyList<(string Key, Tensor Value)> state, long zip64Threshold = uint.MaxValue)
    {
        // A tensor object listed under two keys (tied weights) is one storage, as torch.save would share it.
        var storageKeys = new Dictionary<Tensor, string>(ReferenceEqualityComparer.Instance);
        var storages = new List<(string Key, Tensor Tensor)>();
        var pickle = new Pickle();
        pickle.Op(0x80).Op(2).Global("collections", "OrderedDict").Op(')').Op('R');
        for (int start = 0; start < state.Count; start += Batch)
        {
            pickle.Op('(');
            foreach (var (key, tensor) in state.Skip(start).Take(Batch))
            {
                if (!storageKeys.TryGetValue(tensor, out var storageKey))
                {
                    storageKey = storages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    storageKeys[tensor] = storageKey;
                    storages.Add((storageKey, tensor));
                }
                pickle.Unicode(key);
                RebuildTensor(pickle, tensor, storageKey);
            }
            pickle.Op('u');
        }
        pickle.Op('.');

        var zip = new AlignedZipWriter(stream, zip64Threshold);
        zip.Add(Archive + "data.pkl", pickle.Bytes);
        zip.Add(Archive + "byteorder", "little"u8);
        foreach (var (key, tensor) in storages)
            zip.Add(Archive + "data/" + key, RawBytes(tensor));
        zip.Add(Archive + "version", "3\n"u8);
        zip.Finish();
    }

    static void RebuildTensor(Pickle pickle, Tensor tensor, string storageKey)
    {
        var storageType = tensor.Dtype switch
        {
            ScalarType.Float32 => "FloatStorage",
            ScalarType.Float64 => "DoubleStorage",
            _ => "LongStorage",
        };
        pickle.Global("torch._utils", "_rebuild_tensor_v2").Op('(');
        pickle.Op('(').Unicode("storage").Global("torch", storageType).Unicode(storageKey).Unicode("cpu").Int(tensor.Numel)
            .Op('t').Op('Q');
        pickle.Int(0).IntTuple(tensor.ShapeRef).IntTuple(ShapeOps.Strides(tensor.ShapeRef)).Op(0x89);
        pickle.Global("collections", "OrderedDict").Op(')').Op('R');
        pickle.Op('t').Op('R');
    }

    static ReadOnlySpan<byte> RawBytes(Tensor tensor) => tensor.Storage switch
    {
        float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
        double[] d => MemoryMarshal.AsBytes(d.AsSpan()),
        long[] l => MemoryMarshal.AsBytes(l.AsSpan()),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>The few pickle opcodes a protocol-2 state dict needs, written as Python's pickler writes them.</summary>
    sealed class Pickle
    {
        readonly MemoryStream bytes = new();

        public ReadOnlySpan<byte> Bytes => bytes.GetBuffer().AsSpan(0, (int)bytes.Length);

        public Pickle Op(int opcode)
        {
            bytes.WriteByte((byte)opcode);
            return this;
        }

        public Pickle Global(string module, string name)
        {
            Op('c');
            bytes.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
            return this;
        }

        public Pickle Unicode(string text)
        {
            var utf8 = Encoding.UTF8.GetBytes(text);
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(length, utf8.Length);
            Op('X');
            bytes.Write(length);
            bytes.Write(utf8);
            return this;
        }

        // BININT1, BININT2, BININT as their ranges allow; values here are sizes and strides, never negative.
        public Pickle Int(long value)
        {
            Span<byte> buffer = stackalloc byte[4];
            if (value is >= 0 and < 256)
                return Op('K').Op((int)value);
            if (value is >= 0 and < 65536)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(buffer, (ushort)value);
                Op('M');
                bytes.Write(buffer[..2]);
                return this;
            }
            BinaryPrimitives.WriteInt32LittleEndian(buffer, checked((int)value));
            Op('J');
            bytes.Write(buffer);
            return this;
        }

        public Pickle IntTuple(ReadOnlySpan<int> values)
        {
            if (values.Length == 0)
                return Op(')');
            if (values.Length > 3)
                Op('(');
            foreach (var v in values)
                Int(v);
            return Op(values.Length switch { 1 => 0x85, 2 => 0x86, 3 => 0x87, _ => 't' });
        }
    }
}
