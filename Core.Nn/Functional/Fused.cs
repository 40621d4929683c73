using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>Relu(Add(a, b)) in one pass over memory and one autograd node: a residual block's join, whose sum nothing
    /// else reads. A trace sees the two ops it exports, and broadcasting or mixed dtypes take the two ops as well.</summary>
    internal static Tensor AddRelu(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (Trace.IsActive || !a.IsFloatingPoint || a.Dtype != b.Dtype || !ShapeOps.Equal(a.ShapeRef, b.ShapeRef))
            return Relu(Add(a, b));
        var output = Elementwise.Map<AddReluOp>(a, b);
        return Autograd.Record(output, "AddRelu", g =>
        {
            var masked = Elementwise.Map<ReluGradOp>(output, g);
            return [masked, masked];
        }, a, b);
    }
}

/// <summary>max(x + y, 0), rounding the sum to the element type first as the separate ops do.</summary>
internal readonly struct AddReluOp : IBinaryOp
{
    public static T Invoke<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => T.Max(x + y, T.Zero);
    public static Vector<T> Invoke<T>(Vector<T> x, Vector<T> y) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector.Max(x + y, Vector<T>.Zero);
}
