namespace Hybrid.Core.Gpu;

/// <summary>A one-dimensional array of <typeparamref name="T"/> in the memory of one <see cref="Device"/>.
/// Kernels read and write these; the host sees the data through <see cref="CopyFrom"/> and <see cref="CopyTo"/>.</summary>
public abstract class DeviceArray<T> : IDisposable where T : unmanaged
{
    protected DeviceArray(Device device, int length)
    {
        Device = device;
        Length = length;
    }

    /// <summary>The device whose memory holds the data.</summary>
    public Device Device { get; }

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    /// <summary>Copies <paramref name="source"/> into this array starting at element <paramref name="offset"/>.</summary>
    public void CopyFrom(ReadOnlySpan<T> source, int offset = 0)
    {
        Validate.Range(offset, source.Length, Length, "CopyFrom");
        CopyFromCore(source, offset);
    }

    /// <summary>Copies <paramref name="destination"/>.Length elements starting at <paramref name="offset"/> to the host.</summary>
    public void CopyTo(Span<T> destination, int offset = 0)
    {
        Validate.Range(offset, destination.Length, Length, "CopyTo");
        CopyToCore(destination, offset);
    }

    /// <summary>The whole array, copied to a new host array.</summary>
    public T[] ToArray()
    {
        var result = new T[Length];
        CopyToCore(result, 0);
        return result;
    }

    /// <summary>Sets every element to <paramref name="value"/>.</summary>
    public abstract void Fill(T value);

    protected abstract void CopyFromCore(ReadOnlySpan<T> source, int offset);
    protected abstract void CopyToCore(Span<T> destination, int offset);

    public virtual void Dispose() => GC.SuppressFinalize(this);

    public override string ToString() => $"{typeof(T).Name}[{Length}] on {Device.Name}";
}

/// <summary>Host memory: the storage of the Reference and Cpu devices.</summary>
internal sealed class HostArray<T> : DeviceArray<T> where T : unmanaged
{
    public HostArray(Device device, int length) : base(device, length) => Data = new T[length];

    /// <summary>An array over <paramref name="data"/> itself (no copy).</summary>
    public HostArray(Device device, T[] data) : base(device, data.Length) => Data = data;

    /// <summary>The elements; kernels of host devices work on this directly.</summary>
    public T[] Data { get; }

    /// <summary>The elements of an array of a host device (callers have validated the device).</summary>
    public static T[] Of(DeviceArray<T> array) => ((HostArray<T>)array).Data;

    public override void Fill(T value) => Array.Fill(Data, value);
    protected override void CopyFromCore(ReadOnlySpan<T> source, int offset) => source.CopyTo(Data.AsSpan(offset));
    protected override void CopyToCore(Span<T> destination, int offset) => Data.AsSpan(offset, destination.Length).CopyTo(destination);
}
