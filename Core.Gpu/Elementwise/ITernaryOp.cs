namespace Hybrid.Core.Gpu;

/// <summary>An element-wise function of three operands of equal length.</summary>
public interface ITernaryOp
{
    static abstract T Invoke<T>(T x, T y, T z) where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract Vector<T> Invoke<T>(Vector<T> x, Vector<T> y, Vector<T> z) where T : unmanaged, IFloatingPointIeee754<T>;
}
