using System.Runtime.InteropServices;

namespace Hybrid.Core.Gpu;

/// <summary>The one SIMD element-wise driver (STYLE.md item 7, the shape of .NET's TensorPrimitives): an operator struct
/// states its function once for <see cref="Vector{T}"/> lanes and once for a scalar, and one loop runs it over spans of
/// equal length, full vectors first and then the scalar tail. Generic over float and double; the struct type arguments
/// make each use its own copy of the loop, with no call through an interface. Callers split large ranges across cores.</summary>
public static class SimdMap
{
    /// <summary>destination[i] = op(x[i]) over full vectors, then the scalar tail.</summary>
    public static void Map<T, TOp>(ReadOnlySpan<T> x, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T> where TOp : IUnaryOp =>
        Run(new Unary<T, TOp>(x), destination);

    /// <summary>destination[i] = op(x[i], y[i]).</summary>
    public static void Map<T, TOp>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : IBinaryOp =>
        Run(new Binary<T, TOp>(x, y), destination);

    /// <summary>destination[i] = op(x[i], y[i], z[i]).</summary>
    public static void Map<T, TOp>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> z, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : ITernaryOp =>
        Run(new Ternary<T, TOp>(x, y, z), destination);

    /// <summary>d = x * scale + shift (TensorPrimitives has no form with two scalars).</summary>
    public static void Affine<T>(ReadOnlySpan<T> x, T scale, T shift, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T> =>
        Run(new AffineLanes<T>(x, scale, shift), destination);

    /// <summary>The loop every map shares: destination[i] = the operands' result at i, over full vectors and then the
    /// scalar tail. The operands are a ref struct type argument, so the JIT inlines them into this loop.</summary>
    static void Run<T, TOperands>(TOperands operands, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> where TOperands : IOperands<T>, allows ref struct
    {
        ref T ds = ref MemoryMarshal.GetReference(destination);
        nuint n = (nuint)destination.Length, i = 0, w = (nuint)Vector<T>.Count;
        if (Vector.IsHardwareAccelerated)
            for (; i + w <= n; i += w)
                operands.Lanes(i).StoreUnsafe(ref ds, i);
        for (; i < n; i++) Unsafe.Add(ref ds, i) = operands.Element(i);
    }

    /// <summary>The inputs of one map and its function: the results for the vector of lanes from element i, and for element i.</summary>
    interface IOperands<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector<T> Lanes(nuint i);
        T Element(nuint i);
    }

    readonly ref struct Unary<T, TOp>(ReadOnlySpan<T> x) : IOperands<T>
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : IUnaryOp
    {
        readonly ref T xs = ref MemoryMarshal.GetReference(x);
        public Vector<T> Lanes(nuint i) => TOp.Invoke(Vector.LoadUnsafe(ref xs, i));
        public T Element(nuint i) => TOp.Invoke(Unsafe.Add(ref xs, i));
    }

    readonly ref struct Binary<T, TOp>(ReadOnlySpan<T> x, ReadOnlySpan<T> y) : IOperands<T>
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : IBinaryOp
    {
        readonly ref T xs = ref MemoryMarshal.GetReference(x), ys = ref MemoryMarshal.GetReference(y);
        public Vector<T> Lanes(nuint i) => TOp.Invoke(Vector.LoadUnsafe(ref xs, i), Vector.LoadUnsafe(ref ys, i));
        public T Element(nuint i) => TOp.Invoke(Unsafe.Add(ref xs, i), Unsafe.Add(ref ys, i));
    }

    readonly ref struct Ternary<T, TOp>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> z) : IOperands<T>
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : ITernaryOp
    {
        readonly ref T xs = ref MemoryMarshal.GetReference(x), ys = ref MemoryMarshal.GetReference(y), zs = ref MemoryMarshal.GetReference(z);
        public Vector<T> Lanes(nuint i) =>
            TOp.Invoke(Vector.LoadUnsafe(ref xs, i), Vector.LoadUnsafe(ref ys, i), Vector.LoadUnsafe(ref zs, i));
        public T Element(nuint i) => TOp.Invoke(Unsafe.Add(ref xs, i), Unsafe.Add(ref ys, i), Unsafe.Add(ref zs, i));
    }

    readonly ref struct AffineLanes<T>(ReadOnlySpan<T> x, T scale, T shift) : IOperands<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        readonly ref T xs = ref MemoryMarshal.GetReference(x);
        readonly Vector<T> a = new(scale), b = new(shift);
        public Vector<T> Lanes(nuint i) => Vector.LoadUnsafe(ref xs, i) * a + b;
        public T Element(nuint i) => Unsafe.Add(ref xs, i) * scale + shift;
    }
}
