using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>Softmax and log-softmax along one axis of storage read as (outer, length, inner). With inner = 1 (the last
/// axis) each slice is one contiguous row; otherwise the slice's elements lie <c>inner</c> apart, and the kernels run
/// over whole inner rows at once (length rows of inner contiguous elements), so both cases are SIMD throughout.</summary>
internal readonly struct SoftmaxKernel<T>(int outer, int length, int inner) where T : unmanaged, IFloatingPointIeee754<T>
{
    int Slice => length * inner;

    public static SoftmaxKernel<T> Along(int[] shape, int axis)
    {
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= shape[d];
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        return new(outer, shape.Length == 0 ? 1 : shape[axis], inner);
    }

    void ForSlices(Action<int, T[]> body)
    {
        int width = inner, slice = Slice;
        Ranges.ByWork(outer, slice, (first, count) =>
        {
            // Scratch of one inner row per piece: running maxima, then sums.
            var scratch = new T[2 * width];
            for (int o = first; o < first + count; o++) body(o * slice, scratch);
        });
    }

    /// <summary>Max subtracted before exp, so large logits never overflow.</summary>
    public T[] Forward(T[] x, bool log)
    {
        var y = TensorAccess.Fresh<T>(x.Length);
        int n = length, w = inner;
        ForSlices((start, scratch) =>
        {
            var max = scratch.AsSpan(0, w);
            var sum = scratch.AsSpan(w, w);
            x.AsSpan(start, w).CopyTo(max);
            for (int k = 1; k < n; k++) TensorPrimitives.Max(max, x.AsSpan(start + k * w, w), max);
            sum.Clear();
            for (int k = 0; k < n; k++)
            {
                var row = y.AsSpan(start + k * w, w);
                TensorPrimitives.Subtract(x.AsSpan(start + k * w, w), max, row);
                TensorPrimitives.Exp(row, row);
                TensorPrimitives.Add(sum, row, sum);
            }
            if (log)
            {
                // log-softmax = x - (max + log sum), so the exps above were only needed for their sum.
                TensorPrimitives.Log(sum, sum);
                TensorPrimitives.Add(sum, max, sum);
                for (int k = 0; k < n; k++) TensorPrimitives.Subtract(x.AsSpan(start + k * w, w), sum, y.AsSpan(start + k * w, w));
            }
            else
                for (int k = 0; k < n; k++) TensorPrimitives.Divide(y.AsSpan(start + k * w, w), sum, y.AsSpan(start + k * w, w));
        });
        return y;
    }

    /// <summary>From the output y: softmax dx = y (g - sum(g y)); log-softmax dx = g - exp(y) sum(g).</summary>
    public T[] Backward(T[] y, T[] g, bool log)
    {
        var gx = TensorAccess.Fresh<T>(y.Length);
        int n = length, w = inner;
        ForSlices((start, scratch) =>
        {
            var total = scratch.AsSpan(0, w);
            total.Clear();
            for (int k = 0; k < n; k++)
            {
                var gs = g.AsSpan(start + k * w, w);
                if (log) TensorPrimitives.Add(total, gs, total);
                else TensorPrimitives.MultiplyAdd(gs, y.AsSpan(start + k * w, w), total, total);
            }
            for (int k = 0; k < n; k++)
            {
                var target = gx.AsSpan(start + k * w, w);
                var ys = y.AsSpan(start + k * w, w);
                var gs = g.AsSpan(start + k * w, w);
                if (log)
                {
                    TensorPrimitives.Exp(ys, target);
                    TensorPrimitives.Multiply(target, total, target);
                    TensorPrimitives.Subtract(gs, target, target);
                }
                else
                {
                    TensorPrimitives.Subtract(gs, total, target);
                    TensorPrimitives.Multiply(target, ys, target);
                }
            }
        });
        return gx;
    }
}
