using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>An element-wise function written once for SIMD lanes and once for the scalar tail (the operator-struct
/// pattern of .NET's TensorPrimitives, STYLE.md item 7); generic over float and double so one struct serves both.</summary>
internal interface IUnaryOp
{
    static abstract T Invoke<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract Vector<T> Invoke<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>An element-wise function of two operands of equal length.</summary>
internal interface IBinaryOp
{
    static abstract T Invoke<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract Vector<T> Invoke<T>(Vector<T> x, Vector<T> y) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>An element-wise function of three operands of equal length.</summary>
internal interface ITernaryOp
{
    static abstract T Invoke<T>(T x, T y, T z) where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract Vector<T> Invoke<T>(Vector<T> x, Vector<T> y, Vector<T> z) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>An element-wise kernel over whole spans, for functions built from TensorPrimitives calls (exp, tanh) or
/// scalar code (erf) rather than from lanes.</summary>
internal interface IUnarySpans
{
    static abstract void Invoke<T>(ReadOnlySpan<T> x, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>A span kernel of two operands of equal length.</summary>
internal interface IBinarySpans
{
    static abstract void Invoke<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>The one driver behind every element-wise kernel: SIMD over full vectors, scalars for the tail, and large
/// ranges split across cores by Core.Gpu's <see cref="Ranges.ByWork(int, Action{int, int})"/>.</summary>
internal static class Elementwise
{
    /// <summary>op(x) as a new tensor of x's shape, dtype and device.</summary>
    public static Tensor Map<TOp>(Tensor x) where TOp : IUnaryOp
    {
        return x.IsSingle() ? Run<float>() : Run<double>();

        Tensor Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            T[] xs = x.Data<T>(), d = TensorAccess.Fresh<T>(xs.Length);
            Ranges.ByWork(d.Length, (s, n) => Map<T, TOp>(xs.AsSpan(s, n), d.AsSpan(s, n)));
            return TensorAccess.Own(d, x.ShapeRef, x.Device);
        }
    }

    /// <summary>op(x, y) for equal shapes, as a new tensor.</summary>
    public static Tensor Map<TOp>(Tensor x, Tensor y) where TOp : IBinaryOp
    {
        return x.IsSingle() ? Run<float>() : Run<double>();

        Tensor Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            T[] xs = x.Data<T>(), ys = y.Data<T>(), d = TensorAccess.Fresh<T>(xs.Length);
            Ranges.ByWork(d.Length, (s, n) => Map<T, TOp>(xs.AsSpan(s, n), ys.AsSpan(s, n), d.AsSpan(s, n)));
            return TensorAccess.Own(d, x.ShapeRef, x.Device);
        }
    }

    /// <summary>op(x, y, z) for equal shapes, as a new tensor.</summary>
    public static Tensor Map<TOp>(Tensor x, Tensor y, Tensor z) where TOp : ITernaryOp
    {
        return x.IsSingle() ? Run<float>() : Run<double>();

        Tensor Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            T[] xs = x.Data<T>(), ys = y.Data<T>(), zs = z.Data<T>(), d = TensorAccess.Fresh<T>(xs.Length);
            Ranges.ByWork(d.Length, (s, n) => Map<T, TOp>(xs.AsSpan(s, n), ys.AsSpan(s, n), zs.AsSpan(s, n), d.AsSpan(s, n)));
            return TensorAccess.Own(d, x.ShapeRef, x.Device);
        }
    }

    /// <summary>A span kernel over x, as a new tensor.</summary>
    public static Tensor Spans<TOp>(Tensor x) where TOp : IUnarySpans
    {
        return x.IsSingle() ? Run<float>() : Run<double>();

        Tensor Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            T[] xs = x.Data<T>(), d = TensorAccess.Fresh<T>(xs.Length);
            Ranges.ByWork(d.Length, (s, n) => TOp.Invoke<T>(xs.AsSpan(s, n), d.AsSpan(s, n)));
            return TensorAccess.Own(d, x.ShapeRef, x.Device);
        }
    }

    /// <summary>A span kernel over x and y of equal shapes, as a new tensor.</summary>
    public static Tensor Spans<TOp>(Tensor x, Tensor y) where TOp : IBinarySpans
    {
        return x.IsSingle() ? Run<float>() : Run<double>();

        Tensor Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            T[] xs = x.Data<T>(), ys = y.Data<T>(), d = TensorAccess.Fresh<T>(xs.Length);
            Ranges.ByWork(d.Length, (s, n) => TOp.Invoke<T>(xs.AsSpan(s, n), ys.AsSpan(s, n), d.AsSpan(s, n)));
            return TensorAccess.Own(d, x.ShapeRef, x.Device);
        }
    }

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
