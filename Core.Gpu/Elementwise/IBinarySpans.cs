namespace Hybrid.Core.Gpu;

/// <summary>A span kernel of two operands of equal length.</summary>
public interface IBinarySpans
{
    static abstract void Invoke<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>;
}
