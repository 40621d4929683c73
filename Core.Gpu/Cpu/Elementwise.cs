namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The mask kernels and copies: one pass over memory each, split across cores when large; the mask arithmetic is
/// operator structs run by the shared SIMD driver <see cref="SimdMap"/>.</summary>
internal static unsafe class Elementwise
{
    public static void Copy(float[] source, float[] destination)
    {
        fixed (float* src = source, dst = destination)
        {
            var (s, d) = ((nint)src, (nint)dst);
            Ranges.PerCore(source.Length, (start, count) => Simd.Copy((float*)d + start, (float*)s + start, count));
        }
    }

    /// <summary>effective = weight where scores &gt; 0, else 0.</summary>
    public static void ApplyMask(float[] weight, float[] scores, float[] effective) =>
        Ranges.PerCore(weight.Length, (start, count) =>
            SimdMap.Map<float, MaskOp>(weight.AsSpan(start, count), scores.AsSpan(start, count), effective.AsSpan(start, count)));

    /// <summary>gradScores = rule(gradEffective * weight); gradWeight = gradEffective where scores &gt; 0, else 0.</summary>
    public static void MaskGradients(float[] gradEffective, float[] weight, float[] scores, float[]? gradScores, float[]? gradWeight,
        MaskGradient rule)
    {
        bool clamp = rule == MaskGradient.ClippedStraightThrough;
        Ranges.PerCore(gradEffective.Length, (start, count) =>
        {
            ReadOnlySpan<float> ge = gradEffective.AsSpan(start, count), w = weight.AsSpan(start, count);
            if (gradScores is not null)
            {
                if (clamp) SimdMap.Map<float, ClippedProductOp>(ge, w, gradScores.AsSpan(start, count));
                else SimdMap.Map<float, ProductOp>(ge, w, gradScores.AsSpan(start, count));
            }
            if (gradWeight is not null) SimdMap.Map<float, MaskOp>(ge, scores.AsSpan(start, count), gradWeight.AsSpan(start, count));
        });
    }

    /// <summary>value where score &gt; 0, else 0.</summary>
    readonly struct MaskOp : IBinaryOp
    {
        public static T Invoke<T>(T value, T score) where T : unmanaged, IFloatingPointIeee754<T> => score > T.Zero ? value : T.Zero;

        public static Vector<T> Invoke<T>(Vector<T> value, Vector<T> score) where T : unmanaged, IFloatingPointIeee754<T> =>
            Vector.ConditionalSelect(Vector.GreaterThan(score, Vector<T>.Zero), value, Vector<T>.Zero);
    }

    /// <summary>x * y.</summary>
    readonly struct ProductOp : IBinaryOp
    {
        public static T Invoke<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x * y;

        public static Vector<T> Invoke<T>(Vector<T> x, Vector<T> y) where T : unmanaged, IFloatingPointIeee754<T> => x * y;
    }

    /// <summary>x * y clamped to [-1, 1] (NaN stays NaN): SeaM's clipped straight-through score gradient.</summary>
    readonly struct ClippedProductOp : IBinaryOp
    {
        public static T Invoke<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => T.Clamp(x * y, -T.One, T.One);

        public static Vector<T> Invoke<T>(Vector<T> x, Vector<T> y) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var (v, one) = (x * y, Vector<T>.One);
            return Vector.ConditionalSelect(Vector.GreaterThan(v, one), one, Vector.ConditionalSelect(Vector.LessThan(v, -one), -one, v));
        }
    }
}
