using System.Runtime.InteropServices;

namespace Hybrid.Core.Gpu;

/// <summary>The one SIMD element-wise driver (STYLE.md item 7, the shape of .NET's TensorPrimitives): an operator struct
/// states its function once for <see cref="Vector{T}"/> lanes and once for a scalar, and these loops run it over spans of
/// equal length, full vectors first and then the scalar tail. Generic over float and double; the struct type argument
/// makes each use its own loop, with no call through an interface. Callers split large ranges across cores.</summary>
public static class SimdMap
{
    /// <summary>destination[i] = op(x[i]) over full vectors, then the scalar tail.</summary>
    public static void Map<T, TOp>(ReadOnlySpan<T> x, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T> where TOp : IUnaryOp
    {
        ref T xs = ref MemoryMarshal.GetReference(x);
        ref T ds = ref MemoryMarshal.GetReference(destination);
        nuint n = (nuint)destination.Length, i = 0, w = (nuint)Vector<T>.Count;
        if (Vector.IsHardwareAccelerated)
            for (; i + w <= n; i += w)
                TOp.Invoke(Vector.LoadUnsafe(ref xs, i)).StoreUnsafe(ref ds, i);
        for (; i < n; i++) Unsafe.Add(ref ds, i) = TOp.Invoke(Unsafe.Add(ref xs, i));
    }

    /// <summary>destination[i] = op(x[i], y[i]).</summary>
    public static void Map<T, TOp>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : IBinaryOp
    {
        ref T xs = ref MemoryMarshal.GetReference(x);
        ref T ys = ref MemoryMarshal.GetReference(y);
        ref T ds = ref MemoryMarshal.GetReference(destination);
        nuint n = (nuint)destination.Length, i = 0, w = (nuint)Vector<T>.Count;
        if (Vector.IsHardwareAccelerated)
            for (; i + w <= n; i += w)
                TOp.Invoke(Vector.LoadUnsafe(ref xs, i), Vector.LoadUnsafe(ref ys, i)).StoreUnsafe(ref ds, i);
        for (; i < n; i++) Unsafe.Add(ref ds, i) = TOp.Invoke(Unsafe.Add(ref xs, i), Unsafe.Add(ref ys, i));
    }

    /// <summary>destination[i] = op(x[i], y[i], z[i]).</summary>
    public static void Map<T, TOp>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> z, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : ITernaryOp
    {
        ref T xs = ref MemoryMarshal.GetReference(x);
        ref T ys = ref MemoryMarshal.GetReference(y);
        ref T zs = ref MemoryMarshal.GetReference(z);
        ref T ds = ref MemoryMarshal.GetReference(destination);
        nuint n = (nuint)destination.Length, i = 0, w = (nuint)Vector<T>.Count;
        if (Vector.IsHardwareAccelerated)
            for (; i + w <= n; i += w)
                TOp.Invoke(Vector.LoadUnsafe(ref xs, i), Vector.LoadUnsafe(ref ys, i), Vector.LoadUnsafe(ref zs, i)).StoreUnsafe(ref ds, i);
        for (; i < n; i++) Unsafe.Add(ref ds, i) = TOp.Invoke(Unsafe.Add(ref xs, i), Unsafe.Add(ref ys, i), Unsafe.Add(ref zs, i));
    }

    /// <summary>d = x * scale + shift (TensorPrimitives has no form with two scalars).</summary>
    public static void Affine<T>(ReadOnlySpan<T> x, T scale, T shift, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T xs = ref MemoryMarshal.GetReference(x);
        ref T ds = ref MemoryMarshal.GetReference(destination);
        nuint n = (nuint)destination.Length, i = 0, w = (nuint)Vector<T>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<T> a = new(scale), b = new(shift);
            for (; i + w <= n; i += w)
                (Vector.LoadUnsafe(ref xs, i) * a + b).StoreUnsafe(ref ds, i);
        }
        for (; i < n; i++) Unsafe.Add(ref ds, i) = Unsafe.Add(ref xs, i) * scale + shift;
    }
}
