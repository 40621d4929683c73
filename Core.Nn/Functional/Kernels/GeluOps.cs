using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

// GELU with PyTorch's constants and evaluation order (aten/src/ATen/native/cpu/Activation.cpp): exact,
// x/2 (1 + erf(x/sqrt 2)), and the tanh form, x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

internal static class GeluConstants
{
    public const double Beta = 0.79788456080286535588; // sqrt(2 / pi)
    public const double Kappa = 0.044715;
    public const double InvSqrt2 = 0.70710678118654752440;
    public const double InvSqrt2Pi = 0.39894228040143267794;
}

/// <summary>The argument of tanh in the approximate GELU.</summary>
internal readonly struct GeluTanhInnerOp : IUnaryOp
{
    public static T Invoke<T>(T x) where T : unmanaged, IFloatingPointIeee754<T> =>
        T.CreateTruncating(GeluConstants.Beta) * (x + T.CreateTruncating(GeluConstants.Kappa) * x * x * x);
    public static Vector<T> Invoke<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        new Vector<T>(T.CreateTruncating(GeluConstants.Beta)) * (x + new Vector<T>(T.CreateTruncating(GeluConstants.Kappa)) * x * x * x);
}

/// <summary>x/2 (1 + t) given t = tanh(inner).</summary>
internal readonly struct GeluTanhOutOp : IBinaryOp
{
    public static T Invoke<T>(T x, T t) where T : unmanaged, IFloatingPointIeee754<T> => T.CreateTruncating(0.5) * x * (T.One + t);
    public static Vector<T> Invoke<T>(Vector<T> x, Vector<T> t) where T : unmanaged, IFloatingPointIeee754<T> =>
        new Vector<T>(T.CreateTruncating(0.5)) * x * (Vector<T>.One + t);
}

/// <summary>g (1/2 (1 + t) + x/2 (1 - t^2) beta (1 + 3 kappa x^2)) given t = tanh(inner).</summary>
internal readonly struct GeluTanhGradOp : ITernaryOp
{
    public static T Invoke<T>(T x, T t, T g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T half = T.CreateTruncating(0.5);
        T slope = T.CreateTruncating(GeluConstants.Beta) * (T.One + T.CreateTruncating(3 * GeluConstants.Kappa) * x * x);
        return g * (half * (T.One + t) + half * x * (T.One - t * t) * slope);
    }

    public static Vector<T> Invoke<T>(Vector<T> x, Vector<T> t, Vector<T> g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var half = new Vector<T>(T.CreateTruncating(0.5));
        var slope = new Vector<T>(T.CreateTruncating(GeluConstants.Beta)) * (Vector<T>.One + new Vector<T>(T.CreateTruncating(3 * GeluConstants.Kappa)) * x * x);
        return g * (half * (Vector<T>.One + t) + half * x * (Vector<T>.One - t * t) * slope);
    }
}

internal readonly struct GeluTanhSpans : IUnarySpans
{
    public static void Invoke<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        SimdMap.Map<T, GeluTanhInnerOp>(x, d);
        TensorPrimitives.Tanh(d, d);
        SimdMap.Map<T, GeluTanhOutOp>(x, d, d);
    }
}

internal readonly struct GeluTanhGradSpans : IBinarySpans
{
    public static void Invoke<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> g, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        SimdMap.Map<T, GeluTanhInnerOp>(x, d);
        TensorPrimitives.Tanh(d, d);
        SimdMap.Map<T, GeluTanhGradOp>(x, d, g, d);
    }
}

/// <summary>Exact GELU, evaluated in double (erf has no SIMD form here; GELU is not on the convolutional hot path).</summary>
internal readonly struct GeluErfSpans : IUnarySpans
{
    public static void Invoke<T>(ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < d.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            d[i] = T.CreateTruncating(v * 0.5 * (1 + ErrorFunction.Erf(v * GeluConstants.InvSqrt2)));
        }
    }
}

/// <summary>g (Phi(x) + x phi(x)).</summary>
internal readonly struct GeluErfGradSpans : IBinarySpans
{
    public static void Invoke<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> g, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < d.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            double cdf = 0.5 * (1 + ErrorFunction.Erf(v * GeluConstants.InvSqrt2));
            double pdf = Math.Exp(-0.5 * v * v) * GeluConstants.InvSqrt2Pi;
            d[i] = T.CreateTruncating(double.CreateTruncating(g[i]) * (cdf + v * pdf));
        }
    }
}
