namespace Hybrid.Core.Gpu.Cpu;

/// <summary>y = x W^T + b with W in CSR form: each output is a short gather-dot over its row's surviving inputs, so the work is
/// Batch x NonZeros. Samples are independent and are shared across cores.</summary>
internal static unsafe class SparseLinear
{
    public static void Forward(in LinearShape s, int[] rowStart, int[] columns, float[] values, float[] x, float[]? bias, float[] y)
    {
        var shape = s;
        fixed (int* pStart = rowStart, pCols = columns)
        fixed (float* pv = values, px = x, py = y)
        {
            var (aStart, aCols, av, ax, ay) = ((nint)pStart, (nint)pCols, (nint)pv, (nint)px, (nint)py);
            // A few samples per item keeps the scheduling cost small next to a row of short dot products.
            int perItem = Math.Max(1, Ranges.SerialElements / Math.Max(1, values.Length * 4));
            int items = (s.Batch + perItem - 1) / perItem;
            Ranges.Items(items, item =>
            {
                int end = Math.Min(shape.Batch, (item + 1) * perItem);
                for (int n = item * perItem; n < end; n++)
                    Sample(shape, (int*)aStart, (int*)aCols, (float*)av, (float*)ax + (long)n * shape.InFeatures, bias,
                        (float*)ay + (long)n * shape.OutFeatures);
            });
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Sample(in LinearShape s, int* rowStart, int* columns, float* values, float* x, float[]? bias, float* y)
    {
        for (int o = 0; o < s.OutFeatures; o++)
        {
            // Two partial sums halve the dependency chain of the adds.
            float even = bias?[o] ?? 0f, odd = 0f;
            int t = rowStart[o], end = rowStart[o + 1];
            for (; t + 1 < end; t += 2)
            {
                even += values[t] * x[columns[t]];
                odd += values[t + 1] * x[columns[t + 1]];
            }
            if (t < end) even += values[t] * x[columns[t]];
            y[o] = even + odd;
        }
    }
}
