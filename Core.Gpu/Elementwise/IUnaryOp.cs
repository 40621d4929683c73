namespace Hybrid.Core.Gpu;

/// <summary>An element-wise function written once for SIMD lanes and once for the scalar tail (the operator-struct
/// pattern of .NET's TensorPrimitives, STYLE.md item 7); generic over float and double so one struct serves both.</summary>
public interface IUnaryOp
{
    static abstract T Invoke<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract Vector<T> Invoke<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>;
}
