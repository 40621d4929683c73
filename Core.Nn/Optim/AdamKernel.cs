using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Hybrid.Core.Nn.Optim;

/// <summary>Adam's float32 update without weight decay or AMSGrad (the common case: the naming classifier's 40 epochs)
/// as one pass over each chunk: the moments, the denominator and the step of eight elements stay in registers, where the
/// general path makes eleven TensorPrimitives passes over the chunk. Every element sees the same operations in the same
/// order and rounding as the general path (m b1 then a fused multiply-add of g (1 - b1); v b2 plus the separately
/// rounded g (1 - b2) g; sqrt, divide, add eps; m times -step, divided by the denominator, added to p), so the two give
/// the same bits.</summary>
internal static class AdamKernel
{
    /// <summary>The update of elements [start, start + count) of a float32 parameter, its gradient and its two moments.</summary>
    public static void Step(float[] param, float[] grad, float[] expAvg, float[] expAvgSq, int start, int count,
        float beta1, float keep1, float beta2, float keep2, float correction2Sqrt, float eps, float negStepSize)
    {
        var p = param.AsSpan(start, count);
        var g = grad.AsSpan(start, count);
        var m = expAvg.AsSpan(start, count);
        var v = expAvgSq.AsSpan(start, count);
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> b1 = Vector256.Create(beta1), k1 = Vector256.Create(keep1), b2 = Vector256.Create(beta2);
            Vector256<float> k2 = Vector256.Create(keep2), c2 = Vector256.Create(correction2Sqrt);
            Vector256<float> e = Vector256.Create(eps), step = Vector256.Create(negStepSize);
            for (; i <= count - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var gi = Vector256.Create<float>(g[i..]);
                var mi = Vector256.FusedMultiplyAdd(gi, k1, Vector256.Create<float>(m[i..]) * b1);
                var vi = Vector256.Create<float>(v[i..]) * b2 + gi * k2 * gi;
                var denominator = Vector256.Sqrt(vi) / c2 + e;
                var pi = Vector256.Create<float>(p[i..]) + mi * step / denominator;
                mi.CopyTo(m[i..]);
                vi.CopyTo(v[i..]);
                pi.CopyTo(p[i..]);
            }
        }
        for (; i < count; i++)
        {
            m[i] = MathF.FusedMultiplyAdd(g[i], keep1, m[i] * beta1);
            v[i] = v[i] * beta2 + g[i] * keep2 * g[i];
            p[i] += m[i] * negStepSize / (MathF.Sqrt(v[i]) / correction2Sqrt + eps);
        }
    }
}
