using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Hybrid.Core.Nn;

/// <summary>The reductions behind normalisation and its gradients, each one SIMD pass over a contiguous run. Partial
/// sums over blocks of <see cref="Block"/> elements are added in double, as PyTorch's CPU kernels accumulate in double
/// (acc_type), so float32 statistics over a channel of a million elements stay accurate.</summary>
internal static class Moments
{
    const int Block = 2048;

    /// <summary>Sum of x.</summary>
    public static double Sum<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i += Block)
            sum += double.CreateTruncating(TensorPrimitives.Sum(x.Slice(i, Math.Min(Block, x.Length - i))));
        return sum;
    }

    /// <summary>Sum of (x - mean)^2: the variance numerator, by a second pass rather than E[x^2] - mean^2, which
    /// cancels catastrophically when the mean is large against the spread.</summary>
    public static double SumSquaredDeviations<T>(ReadOnlySpan<T> x, T mean) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double total = 0;
        for (int start = 0; start < x.Length; start += Block)
        {
            var part = x.Slice(start, Math.Min(Block, x.Length - start));
            ref T xs = ref MemoryMarshal.GetReference(part);
            nuint n = (nuint)part.Length, i = 0, w = (nuint)Vector<T>.Count;
            T sum = T.Zero;
            if (Vector.IsHardwareAccelerated && n >= w)
            {
                Vector<T> m = new(mean), acc = Vector<T>.Zero;
                for (; i + w <= n; i += w)
                {
                    var d = Vector.LoadUnsafe(ref xs, i) - m;
                    acc += d * d;
                }
                sum = Vector.Sum(acc);
            }
            for (; i < n; i++)
            {
                T d = Unsafe.Add(ref xs, i) - mean;
                sum += d * d;
            }
            total += double.CreateTruncating(sum);
        }
        return total;
    }

    /// <summary>Sum of g * (x - mean), computed as written (not as dot(g, x) - mean * sum(g), which cancels).</summary>
    public static double DotCentered<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, T mean) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double total = 0;
        for (int start = 0; start < x.Length; start += Block)
        {
            int length = Math.Min(Block, x.Length - start);
            ref T xs = ref MemoryMarshal.GetReference(x.Slice(start, length));
            ref T gs = ref MemoryMarshal.GetReference(g.Slice(start, length));
            nuint n = (nuint)length, i = 0, w = (nuint)Vector<T>.Count;
            T sum = T.Zero;
            if (Vector.IsHardwareAccelerated && n >= w)
            {
                Vector<T> m = new(mean), acc = Vector<T>.Zero;
                for (; i + w <= n; i += w)
                    acc += Vector.LoadUnsafe(ref gs, i) * (Vector.LoadUnsafe(ref xs, i) - m);
                sum = Vector.Sum(acc);
            }
            for (; i < n; i++) sum += Unsafe.Add(ref gs, i) * (Unsafe.Add(ref xs, i) - mean);
            total += double.CreateTruncating(sum);
        }
        return total;
    }

    /// <summary>d = g * a + 0, and 0 where <paramref name="gate"/> (when given) is not positive: an evaluation-mode batch
    /// norm's input gradient, behind its fused ReLU's mask, in one pass. It equals <see cref="Combine{T}"/> with b = c = 0
    /// on the masked gradient bit for bit (adding +0 turns a -0 product into +0, as Combine's trailing terms do).</summary>
    public static void ScaleGated<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> gate, T a, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T gs = ref MemoryMarshal.GetReference(g);
        ref T ys = ref MemoryMarshal.GetReference(gate);
        ref T ds = ref MemoryMarshal.GetReference(destination);
        bool gated = !gate.IsEmpty;
        nuint n = (nuint)destination.Length, i = 0, w = (nuint)Vector<T>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<T> va = new(a);
            if (gated)
                for (; i + w <= n; i += w)
                {
                    var keep = Vector.GreaterThan(Vector.LoadUnsafe(ref ys, i), Vector<T>.Zero);
                    (Vector.ConditionalSelect(keep, Vector.LoadUnsafe(ref gs, i), Vector<T>.Zero) * va + Vector<T>.Zero).StoreUnsafe(ref ds, i);
                }
            else
                for (; i + w <= n; i += w)
                    (Vector.LoadUnsafe(ref gs, i) * va + Vector<T>.Zero).StoreUnsafe(ref ds, i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref ds, i) = (gated && !(Unsafe.Add(ref ys, i) > T.Zero) ? T.Zero : Unsafe.Add(ref gs, i)) * a + T.Zero;
    }

    /// <summary>d = g * a + (x - center) * b + c: the input gradient of a normalisation, fused into one pass.</summary>
    public static void Combine<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, T center, T a, T b, T c, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ref T gs = ref MemoryMarshal.GetReference(g);
        ref T xs = ref MemoryMarshal.GetReference(x);
        ref T ds = ref MemoryMarshal.GetReference(destination);
        nuint n = (nuint)destination.Length, i = 0, w = (nuint)Vector<T>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            Vector<T> vm = new(center), va = new(a), vb = new(b), vc = new(c);
            for (; i + w <= n; i += w)
                (Vector.LoadUnsafe(ref gs, i) * va + (Vector.LoadUnsafe(ref xs, i) - vm) * vb + vc).StoreUnsafe(ref ds, i);
        }
        for (; i < n; i++) Unsafe.Add(ref ds, i) = Unsafe.Add(ref gs, i) * a + (Unsafe.Add(ref xs, i) - center) * b + c;
    }
}
