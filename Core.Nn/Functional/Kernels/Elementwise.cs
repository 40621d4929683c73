using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>Element-wise ops on whole tensors: a new tensor of the operands' shape, filled by Core.Gpu's SIMD driver
/// (<see cref="SimdMap"/>) over ranges split across cores by <see cref="Ranges.ByWork(int, Action{int, int})"/>.</summary>
internal static class Elementwise
{
    /// <summary>op(x) as a new tensor of x's shape, dtype and device.</summary>
    public static Tensor Map<TOp>(Tensor x) where TOp : IUnaryOp
    {
        return x.IsSingle() ? Run<float>() : Run<double>();

        Tensor Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            T[] xs = x.Data<T>(), d = TensorAccess.Fresh<T>(xs.Length);
            Ranges.ByWork(d.Length, (s, n) => SimdMap.Map<T, TOp>(xs.AsSpan(s, n), d.AsSpan(s, n)));
            return TensorAccess.Own(d, x.ShapeRef, x.Device);
        }
    }

    /// <summary>op(x) written over x (SimdMap reads each lane before it writes it), returned.</summary>
    public static Tensor MapInPlace<TOp>(Tensor x) where TOp : IUnaryOp
    {
        if (x.IsSingle()) Run<float>();
        else Run<double>();
        return x;

        void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            T[] xs = x.Data<T>();
            Ranges.ByWork(xs.Length, (s, n) => SimdMap.Map<T, TOp>(xs.AsSpan(s, n), xs.AsSpan(s, n)));
        }
    }

    /// <summary>op(x, y) for equal shapes, as a new tensor.</summary>
    public static Tensor Map<TOp>(Tensor x, Tensor y) where TOp : IBinaryOp
    {
        return x.IsSingle() ? Run<float>() : Run<double>();

        Tensor Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            T[] xs = x.Data<T>(), ys = y.Data<T>(), d = TensorAccess.Fresh<T>(xs.Length);
            Ranges.ByWork(d.Length, (s, n) => SimdMap.Map<T, TOp>(xs.AsSpan(s, n), ys.AsSpan(s, n), d.AsSpan(s, n)));
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
            Ranges.ByWork(d.Length, (s, n) => SimdMap.Map<T, TOp>(xs.AsSpan(s, n), ys.AsSpan(s, n), zs.AsSpan(s, n), d.AsSpan(s, n)));
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
}
