using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>A binary arithmetic op in the three forms a folded broadcast needs: both operands advancing, or one of them
/// fixed to a single element for the run.</summary>
internal interface IBroadcastOp<TSelf> where TSelf : IBroadcastOp<TSelf>
{
    static abstract void Invoke<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>;
    static abstract void Invoke<T>(ReadOnlySpan<T> x, T y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>The fixed left operand; a commutative op swaps the operands, the others override it.</summary>
    static virtual void Invoke<T>(T x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TSelf.Invoke(y, x, d);
}

internal readonly struct AddOp : IBroadcastOp<AddOp>
{
    public static void Invoke<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(x, y, d);
    public static void Invoke<T>(ReadOnlySpan<T> x, T y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(x, y, d);
}

internal readonly struct MulOp : IBroadcastOp<MulOp>
{
    public static void Invoke<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Multiply(x, y, d);
    public static void Invoke<T>(ReadOnlySpan<T> x, T y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Multiply(x, y, d);
}

internal readonly struct SubOp : IBroadcastOp<SubOp>
{
    public static void Invoke<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Subtract(x, y, d);
    public static void Invoke<T>(ReadOnlySpan<T> x, T y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Subtract(x, y, d);
    public static void Invoke<T>(T x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Subtract(x, y, d);
}

internal readonly struct DivOp : IBroadcastOp<DivOp>
{
    public static void Invoke<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Divide(x, y, d);
    public static void Invoke<T>(ReadOnlySpan<T> x, T y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Divide(x, y, d);
    public static void Invoke<T>(T x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Divide(x, y, d);
}

/// <summary>The broadcasting kernels: binary ops over broadcast shapes, and their adjoints, summing a gradient back to
/// an operand's shape and expanding a reduced tensor to a full one. Callers have validated shapes and dtypes.</summary>
internal static class Broadcasting
{
    /// <summary>op(a, b) over the broadcast shape <paramref name="shape"/>, on a's device.</summary>
    public static Tensor Binary<TOp>(Tensor a, Tensor b, int[] shape) where TOp : IBroadcastOp<TOp>
    {
        return a.IsSingle() ? Run<float>() : Run<double>();

        Tensor Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            T[] x = a.Data<T>(), y = b.Data<T>(), d = TensorAccess.Fresh<T>(ShapeOps.Numel(shape));
            if (x.Length == d.Length && y.Length == d.Length)
            {
                // Equal shapes (residual connections, gradients): one SIMD run split across cores, no layout.
                Ranges.ByWork(d.Length, (s, n) => TOp.Invoke(x.AsSpan(s, n), y.AsSpan(s, n), d.AsSpan(s, n)));
                return TensorAccess.Own(d, shape, a.Device);
            }
            var layout = new BroadcastLayout(shape, a.ShapeRef, b.ShapeRef, shape);
            int xStride = layout.InnerStrides[0], yStride = layout.InnerStrides[1];
            layout.Run((o, n) =>
            {
                var target = d.AsSpan(o[2], n);
                if (xStride == 0) TOp.Invoke(x[o[0]], y.AsSpan(o[1], n), target);
                else if (yStride == 0) TOp.Invoke(x.AsSpan(o[0], n), y[o[1]], target);
                else TOp.Invoke(x.AsSpan(o[0], n), y.AsSpan(o[1], n), target);
            });
            return TensorAccess.Own(d, shape, a.Device);
        }
    }

    /// <summary>The gradient of a broadcast operand: <paramref name="grad"/> summed over the dimensions along which
    /// <paramref name="shape"/> was broadcast (leading ones and size-1 dimensions); itself when the shapes agree.</summary>
    public static Tensor SumToShape(Tensor grad, int[] shape) =>
        ShapeOps.Equal(grad.ShapeRef, shape) ? grad : Reduce(grad, (int[])shape.Clone());

    /// <summary>As <see cref="SumToShape"/>, always into new storage.</summary>
    public static Tensor Reduce(Tensor input, int[] shape)
    {
        return input.IsSingle() ? Run<float>() : Run<double>();

        Tensor Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            T[] g = input.Data<T>(), r = new T[ShapeOps.Numel(shape)];
            var layout = new BroadcastLayout(input.ShapeRef, input.ShapeRef, shape);
            bool keeps = layout.InnerStrides[1] == 1;
            // Serial: several rows add into the same target elements.
            layout.Run((o, n) =>
            {
                if (keeps) TensorPrimitives.Add(r.AsSpan(o[1], n), g.AsSpan(o[0], n), r.AsSpan(o[1], n));
                else r[o[1]] += T.CreateTruncating(Moments.Sum<T>(g.AsSpan(o[0], n)));
            }, serial: true);
            return TensorAccess.Own(r, shape, input.Device);
        }
    }

    /// <summary><paramref name="input"/> repeated along broadcast dimensions to <paramref name="shape"/> (new storage).</summary>
    public static Tensor Expand(Tensor input, int[] shape)
    {
        return input.IsSingle() ? Run<float>() : Run<double>();

        Tensor Run<T>() where T : unmanaged, IFloatingPointIeee754<T>
        {
            T[] x = input.Data<T>(), d = TensorAccess.Fresh<T>(ShapeOps.Numel(shape));
            var layout = new BroadcastLayout(shape, input.ShapeRef, shape);
            bool advances = layout.InnerStrides[0] == 1;
            layout.Run((o, n) =>
            {
                if (advances) x.AsSpan(o[0], n).CopyTo(d.AsSpan(o[1], n));
                else d.AsSpan(o[1], n).Fill(x[o[0]]);
            });
            return TensorAccess.Own(d, shape, input.Device);
        }
    }
}
