using Hybrid.Core.Nn.Formats.Safetensors;

namespace Hybrid.Core.Nn.Formats.PyTorch;

/// <summary>
/// One tensor of a PyTorch checkpoint, on the host. <see cref="Shape"/>, <see cref="Strides"/>,
/// <see cref="StorageOffset"/> and <see cref="SavedLocation"/> are what the file says; <see cref="Data"/>
/// is always the contiguous row-major copy of the elements (non-contiguous views are materialised when
/// the checkpoint is loaded), in the same little-endian layout a safetensors file holds.
/// </summary>
public sealed record CheckpointTensor
{
    /// <summary>The checkpoint the tensor was read from.</summary>
    public required string Path { get; init; }

    /// <summary>The state-dict key, e.g. <c>module.conv1.weight</c> (see <see cref="TorchStateDict.WithoutPrefix"/>).</summary>
    public required string Name { get; init; }

    /// <summary>The element type, from the storage class (<c>torch.FloatStorage</c> is F32).</summary>
    public required DType DType { get; init; }

    /// <summary>Dimensions, outermost first; empty for a scalar.</summary>
    public required long[] Shape { get; init; }

    /// <summary>The strides, in elements, the tensor had in the file (its view of the storage).</summary>
    public required long[] Strides { get; init; }

    /// <summary>The offset, in elements, of the tensor's first element in its saved storage.</summary>
    public required long StorageOffset { get; init; }

    /// <summary>The device the storage was saved from (<c>cpu</c>, <c>cuda:0</c>, ...); the data is on the host regardless.</summary>
    public required string SavedLocation { get; init; }

    /// <summary>The elements, contiguous row-major, little-endian: <c>ElementCount * DType.ElementSize()</c> bytes.</summary>
    public required byte[] Data { get; init; }

    internal CheckpointTensor() { }

    /// <summary>The number of elements, the product of <see cref="Shape"/>.</summary>
    public long ElementCount => TensorEntry.CountElements(Shape);

    /// <summary>The elements as floats, converted as <see cref="SafetensorsFile.ReadFloat32"/> does.</summary>
    public float[] ReadFloat32() => Read<float>(integersOnly: false);

    /// <summary>The elements as doubles, converted exactly from any dtype except I64 beyond 2^53.</summary>
    public double[] ReadFloat64() => Read<double>(integersOnly: false);

    /// <summary>The elements as longs; the tensor must have an integer dtype (I64, I32, U8, BOOL).</summary>
    public long[] ReadInt64() => Read<long>(integersOnly: true);

    /// <summary>The elements as ints; the tensor must have an integer dtype and I64 values must fit.</summary>
    public int[] ReadInt32() => Read<int>(integersOnly: true);

    /// <summary>The tensor as a <see cref="TensorData"/>, ready for <see cref="SafetensorsWriter"/> (the bytes are shared, not copied).</summary>
    public TensorData ToTensorData() => new(Name, DType, (long[])Shape.Clone(), Data);

    /// <summary>A one-line description such as <c>conv1.weight F32 [16, 3, 3, 3] (cuda:0)</c>.</summary>
    public override string ToString() => $"{Name} {DType.HeaderName()} {TensorEntry.FormatShape(Shape)} ({SavedLocation})";

    T[] Read<T>(bool integersOnly) where T : unmanaged, System.Numerics.INumberBase<T>
    {
        if (integersOnly && DType.IsFloatingPoint())
            throw new InputException(Path,
                $"tensor '{Name}' is {DType.HeaderName()}; reading it as {typeof(T).Name} needs an integer dtype (I64, I32, U8, BOOL)");
        var values = new T[Data.Length / DType.ElementSize()];
        try
        {
            ElementConversion.Convert(Data, DType, values.AsSpan());
        }
        catch (OverflowException e)
        {
            throw new InputException(Path,
                $"tensor '{Name}' ({DType.HeaderName()}) holds values outside the {typeof(T).Name} range", e);
        }
        return values;
    }
}
