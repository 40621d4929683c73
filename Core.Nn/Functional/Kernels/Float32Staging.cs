using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>Hands float32 tensor storage to a Core.Gpu entry point. Host devices wrap the arrays themselves, so kernels
/// read and write tensor storage directly; devices with their own memory get uploads of the inputs, and the outputs are
/// downloaded by <see cref="Download"/>.</summary>
internal sealed class Float32Staging(Device device) : IDisposable
{
    readonly List<(DeviceArray<float> Array, float[] Host)> outputs = [];
    readonly List<DeviceArray<float>> owned = [];

    public Device Device => device;

    /// <summary>An operand the kernel only reads.</summary>
    public DeviceArray<float> In(float[] host)
    {
        if (device.IsHost) return device.Wrap(host);
        var array = device.Upload<float>(host);
        owned.Add(array);
        return array;
    }

    public DeviceArray<float>? InOptional(float[]? host) => host is null ? null : In(host);

    /// <summary>An array the kernel overwrites; <paramref name="host"/> holds the result after <see cref="Download"/>.</summary>
    public DeviceArray<float> Out(float[] host)
    {
        if (device.IsHost) return device.Wrap(host);
        var array = device.Allocate<float>(host.Length);
        owned.Add(array);
        outputs.Add((array, host));
        return array;
    }

    public DeviceArray<float>? OutOptional(float[]? host) => host is null ? null : Out(host);

    /// <summary>A scratch array of the device (wrapped host memory on host devices).</summary>
    public DeviceArray<float> Scratch(int length)
    {
        if (device.IsHost) return device.Wrap(new float[length]);
        var array = device.Allocate<float>(length);
        owned.Add(array);
        return array;
    }

    /// <summary>Copies every output array back into its host storage (nothing to do on host devices).</summary>
    public void Download()
    {
        device.Synchronize();
        foreach (var (array, host) in outputs) array.CopyTo(host);
    }

    public void Dispose()
    {
        foreach (var array in owned) array.Dispose();
        owned.Clear();
    }
}
