namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The mask kernels and copies: one pass over memory each, split across cores when large.</summary>
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
    public static void ApplyMask(float[] weight, float[] scores, float[] effective)
    {
        fixed (float* w = weight, s = scores, e = effective)
        {
            var (aw, aS, ae) = ((nint)w, (nint)s, (nint)e);
            Ranges.PerCore(weight.Length, (start, count) => Simd.Mask((float*)ae + start, (float*)aw + start, (float*)aS + start, count));
        }
    }

    /// <summary>gradScores = rule(gradEffective * weight); gradWeight = gradEffective where scores &gt; 0, else 0.</summary>
    public static void MaskGradients(float[] gradEffective, float[] weight, float[] scores, float[]? gradScores, float[]? gradWeight,
        MaskGradient rule)
    {
        bool clamp = rule == MaskGradient.ClippedStraightThrough;
        fixed (float* ge = gradEffective, w = weight, s = scores, gs = gradScores, gw = gradWeight)
        {
            var (age, aw, aS, ags, agw) = ((nint)ge, (nint)w, (nint)s, (nint)gs, (nint)gw);
            Ranges.PerCore(gradEffective.Length, (start, count) =>
            {
                if (ags != 0) Simd.Multiply((float*)ags + start, (float*)age + start, (float*)aw + start, count, clamp, 1f);
                if (agw != 0) Simd.Mask((float*)agw + start, (float*)age + start, (float*)aS + start, count);
            });
        }
    }
}
