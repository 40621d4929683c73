using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>Typed access to a tensor's storage for the generic kernels: T is float or double, chosen once per op by
/// <see cref="Tensor.Dtype"/>.</summary>
internal static class TensorAccess
{
    /// <summary>The storage as <typeparamref name="T"/>[] (the caller has checked the dtype).</summary>
    public static T[] Data<T>(this Tensor t) where T : unmanaged => (T[])t.Storage;

    /// <summary>A tensor that owns <paramref name="data"/> (no copy); <paramref name="shape"/> must not be changed later.</summary>
    public static Tensor Own<T>(T[] data, int[] shape, Device device) where T : unmanaged => new(data, shape, device);

    /// <summary>The same storage read with another shape of equal size, unrecorded (kernels reshaping their own results).</summary>
    public static Tensor View(Tensor t, int[] shape) => new(t.Storage, shape, t.Device);

    /// <summary>Storage for a kernel that writes every element: skipping the zeroing saves a full pass over large
    /// outputs, and float32 storage may be a recycled array (<see cref="StoragePool"/>).</summary>
    public static T[] Fresh<T>(int length) where T : unmanaged =>
        typeof(T) == typeof(float) ? (T[])(object)StoragePool.Rent(length) : GC.AllocateUninitializedArray<T>(length);

    /// <summary>True when the generic kernels should run in single precision for this tensor.</summary>
    public static bool IsSingle(this Tensor t) => t.Dtype == ScalarType.Float32;
}
