namespace Hybrid.Core.Gpu;

/// <summary>An element-wise kernel over whole spans, for functions built from TensorPrimitives calls (exp, tanh) or
/// scalar code (erf) rather than from lanes.</summary>
public interface IUnarySpans
{
    static abstract void Invoke<T>(ReadOnlySpan<T> x, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>;
}
