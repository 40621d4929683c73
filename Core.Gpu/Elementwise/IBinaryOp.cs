namespace Hybrid.Core.Gpu;

/// <summary>An element-wise function of two operands of equal length.</summary>
public interface IBinaryOp
{
    static abstract T Invoke<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract Vector<T> Invoke<T>(Vector<T> x, Vector<T> y) where T : unmanaged, IFloatingPointIeee754<T>;
}
