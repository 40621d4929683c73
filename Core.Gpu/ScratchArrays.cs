using System.Collections.Concurrent;

namespace Hybrid.Core.Gpu;

/// <summary>Temporary float arrays of an exact length that a call needs afresh each time (a masked layer's effective weight
/// and its gradient, remade on every forward and backward), reused on host devices. A new array of a large layer's size costs
/// more than the work done on it: 2.3 to 3 ms of CPU for the 4.7 MB of VGG-16's 256-512 weights (zeroing, page faults and
/// the full collections that large-object allocations bring) against 0.15 ms to fill a reused one. Free arrays are held
/// weakly, so a collection can still take them back when memory is short.</summary>
internal static class ScratchArrays
{
    static readonly ConcurrentDictionary<int, ConcurrentBag<WeakReference<float[]>>> free = new();

    /// <summary>An array of <paramref name="length"/> floats on <paramref name="device"/>, all zero; give it back with
    /// <see cref="Return"/>.</summary>
    public static DeviceArray<float> Rent(Device device, int length)
    {
        if (!device.IsHost) return device.Allocate<float>(length);
        var array = Reused(length) ?? new float[length];
        return new HostArray<float>(device, array);
    }

    /// <summary>Ends the use of an array from <see cref="Rent"/>.</summary>
    public static void Return(DeviceArray<float> array)
    {
        if (array is HostArray<float> host) free.GetOrAdd(host.Length, _ => new()).Add(new WeakReference<float[]>(host.Data));
        else array.Dispose();
    }

    /// <summary>A free array of that length that no collection has taken, cleared; null when there is none.</summary>
    static float[]? Reused(int length)
    {
        if (!free.TryGetValue(length, out var arrays)) return null;
        while (arrays.TryTake(out var reference))
            if (reference.TryGetTarget(out var array))
            {
                Array.Clear(array);
                return array;
            }
        return null;
    }
}
