using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

// The activation kernels and their derivatives, with PyTorch's formulas and boundary conventions (which side of a kink
// gets which slope) so that float32 results and gradients match torch's CPU kernels.

internal readonly struct ReluOp : IUnaryOp
{
    public static T Invoke<T>(T x) where T : unmanaged, IFloatingPointIeee754<T> => T.Max(x, T.Zero);
    public static Vector<T> Invoke<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T> => Vector.Max(x, Vector<T>.Zero);
}

/// <summary>ReLU's gradient read from its output (y &gt; 0 exactly where x &gt; 0), so the input need not be kept.</summary>
internal readonly struct ReluGradOp : IBinaryOp
{
    public static T Invoke<T>(T y, T g) where T : unmanaged, IFloatingPointIeee754<T> => y > T.Zero ? g : T.Zero;
    public static Vector<T> Invoke<T>(Vector<T> y, Vector<T> g) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector.ConditionalSelect(Vector.GreaterThan(y, Vector<T>.Zero), g, Vector<T>.Zero);
}

internal readonly struct Relu6Op : IUnaryOp
{
    public static T Invoke<T>(T x) where T : unmanaged, IFloatingPointIeee754<T> => T.Min(T.Max(x, T.Zero), T.CreateTruncating(6));
    public static Vector<T> Invoke<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector.Min(Vector.Max(x, Vector<T>.Zero), new Vector<T>(T.CreateTruncating(6)));
}

/// <summary>hardtanh_backward: zero at and beyond both kinks.</summary>
internal readonly struct Relu6GradOp : IBinaryOp
{
    public static T Invoke<T>(T x, T g) where T : unmanaged, IFloatingPointIeee754<T> =>
        x > T.Zero && x < T.CreateTruncating(6) ? g : T.Zero;
    public static Vector<T> Invoke<T>(Vector<T> x, Vector<T> g) where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector.ConditionalSelect(Vector.GreaterThan(x, Vector<T>.Zero) & Vector.LessThan(x, new Vector<T>(T.CreateTruncating(6))), g, Vector<T>.Zero);
}

internal readonly struct HardsigmoidOp : IUnaryOp
{
    public static T Invoke<T>(T x) where T : unmanaged, IFloatingPointIeee754<T> =>
        T.Min(T.Max(x + T.CreateTruncating(3), T.Zero), T.CreateTruncating(6)) / T.CreateTruncating(6);
    public static Vector<T> Invoke<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var six = new Vector<T>(T.CreateTruncating(6));
        return Vector.Min(Vector.Max(x + new Vector<T>(T.CreateTruncating(3)), Vector<T>.Zero), six) / six;
    }
}

internal readonly struct HardsigmoidGradOp : IBinaryOp
{
    public static T Invoke<T>(T x, T g) where T : unmanaged, IFloatingPointIeee754<T> =>
        x > T.CreateTruncating(-3) && x < T.CreateTruncating(3) ? g * T.CreateTruncating(1.0 / 6) : T.Zero;
    public static Vector<T> Invoke<T>(Vector<T> x, Vector<T> g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var inside = Vector.GreaterThan(x, new Vector<T>(T.CreateTruncating(-3))) & Vector.LessThan(x, new Vector<T>(T.CreateTruncating(3)));
        return Vector.ConditionalSelect(inside, g * new Vector<T>(T.CreateTruncating(1.0 / 6)), Vector<T>.Zero);
    }
}

internal readonly struct HardswishOp : IUnaryOp
{
    public static T Invoke<T>(T x) where T : unmanaged, IFloatingPointIeee754<T> =>
        x * T.Min(T.Max(x + T.CreateTruncating(3), T.Zero), T.CreateTruncating(6)) / T.CreateTruncating(6);
    public static Vector<T> Invoke<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var six = new Vector<T>(T.CreateTruncating(6));
        return x * Vector.Min(Vector.Max(x + new Vector<T>(T.CreateTruncating(3)), Vector<T>.Zero), six) / six;
    }
}

/// <summary>hardswish_backward: 0 below -3, x/3 + 1/2 on [-3, 3], 1 above.</summary>
internal readonly struct HardswishGradOp : IBinaryOp
{
    public static T Invoke<T>(T x, T g) where T : unmanaged, IFloatingPointIeee754<T> =>
        x < T.CreateTruncating(-3) ? T.Zero
        : x <= T.CreateTruncating(3) ? g * (x / T.CreateTruncating(3) + T.CreateTruncating(0.5))
        : g;
    public static Vector<T> Invoke<T>(Vector<T> x, Vector<T> g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var three = new Vector<T>(T.CreateTruncating(3));
        var middle = g * (x / three + new Vector<T>(T.CreateTruncating(0.5)));
        var upper = Vector.ConditionalSelect(Vector.LessThanOrEqual(x, three), middle, g);
        return Vector.ConditionalSelect(Vector.LessThan(x, -three), Vector<T>.Zero, upper);
    }
}

/// <summary>sigmoid_backward from the output: g (1 - y) y.</summary>
internal readonly struct SigmoidGradOp : IBinaryOp
{
    public static T Invoke<T>(T y, T g) where T : unmanaged, IFloatingPointIeee754<T> => g * (T.One - y) * y;
    public static Vector<T> Invoke<T>(Vector<T> y, Vector<T> g) where T : unmanaged, IFloatingPointIeee754<T> => g * (Vector<T>.One - y) * y;
}

/// <summary>tanh_backward from the output: g (1 - y^2).</summary>
internal readonly struct TanhGradOp : IBinaryOp
{
    public static T Invoke<T>(T y, T g) where T : unmanaged, IFloatingPointIeee754<T> => g * (T.One - y * y);
    public static Vector<T> Invoke<T>(Vector<T> y, Vector<T> g) where T : unmanaged, IFloatingPointIeee754<T> => g * (Vector<T>.One - y * y);
}

/// <summary>silu_backward given s = sigmoid(x): g s (1 + x (1 - s)).</summary>
internal readonly struct SiluGradOp : ITernaryOp
{
    public static T Invoke<T>(T x, T s, T g) where T : unmanaged, IFloatingPointIeee754<T> => g * s * (T.One + x * (T.One - s));
    public static Vector<T> Invoke<T>(Vector<T> x, Vector<T> s, Vector<T> g) where T : unmanaged, IFloatingPointIeee754<T> =>
        g * s * (Vector<T>.One + x * (Vector<T>.One - s));
}

internal readonly struct SigmoidSpans : IUnarySpans
{
    public static void Invoke<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Sigmoid(x, d);
}

internal readonly struct TanhSpans : IUnarySpans
{
    public static void Invoke<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Tanh(x, d);
}

internal readonly struct SiluSpans : IUnarySpans
{
    public static void Invoke<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Sigmoid(x, d);
        TensorPrimitives.Multiply(x, d, d);
    }
}

internal readonly struct SiluGradSpans : IBinarySpans
{
    public static void Invoke<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> g, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Sigmoid(x, d);
        SimdMap.Map<T, SiluGradOp>(x, d, g, d);
    }
}
