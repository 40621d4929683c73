namespace Hybrid.Core.Nn;

/// <summary>One strided copy behind every copying view (permute, slice, cat, pad and their gradients):
/// dst[dstOffset + idx . dstStrides] = src[srcOffset + idx . srcStrides] for every index idx of a box of the given extent.
/// Dimensions that are contiguous in both arrays are merged first, so copies of whole rows or planes become block copies.</summary>
internal static class StridedCopy
{
    const int ParallelElements = 1 << 16;

    public static void Run(Array src, int srcOffset, int[] srcStrides, Array dst, int dstOffset, int[] dstStrides, int[] extent)
    {
        var (shape, from, to) = Collapse(srcStrides, dstStrides, extent);
        if (shape is null) return;
        switch (src, dst)
        {
            case (float[] s, float[] d): Copy(s, srcOffset, from, d, dstOffset, to, shape); break;
            case (double[] s, double[] d): Copy(s, srcOffset, from, d, dstOffset, to, shape); break;
            case (long[] s, long[] d): Copy(s, srcOffset, from, d, dstOffset, to, shape); break;
            default: throw new ArgumentException($"cannot copy {src.GetType().Name} into {dst.GetType().Name}");
        }
    }

    /// <summary>The box without size-1 dimensions and with mergeable neighbours merged; null shape when the box is empty.</summary>
    static (int[]? Shape, int[] From, int[] To) Collapse(int[] srcStrides, int[] dstStrides, int[] extent)
    {
        var (shape, from, to) = (new List<int>(), new List<int>(), new List<int>());
        for (int d = 0; d < extent.Length; d++)
        {
            if (extent[d] == 0) return (null, [], []);
            if (extent[d] == 1) continue;
            int last = shape.Count - 1;
            if (last >= 0 && from[last] == srcStrides[d] * extent[d] && to[last] == dstStrides[d] * extent[d])
            {
                shape[last] *= extent[d];
                (from[last], to[last]) = (srcStrides[d], dstStrides[d]);
            }
            else
            {
                shape.Add(extent[d]);
                from.Add(srcStrides[d]);
                to.Add(dstStrides[d]);
            }
        }
        if (shape.Count == 0) return ([1], [1], [1]);
        return (shape.ToArray(), from.ToArray(), to.ToArray());
    }

    static void Copy<T>(T[] src, int srcOffset, int[] from, T[] dst, int dstOffset, int[] to, int[] shape) where T : unmanaged
    {
        int rank = shape.Length, inner = shape[^1], innerFrom = from[^1], innerTo = to[^1];
        int rows = 1;
        for (int d = 0; d < rank - 1; d++) rows *= shape[d];

        void CopyRows(int firstRow, int rowCount)
        {
            for (int r = firstRow; r < firstRow + rowCount; r++)
            {
                int s = srcOffset, t = dstOffset, rest = r;
                for (int d = rank - 2; d >= 0; d--)
                {
                    int i = rest % shape[d];
                    rest /= shape[d];
                    s += i * from[d];
                    t += i * to[d];
                }
                if (innerFrom == 1 && innerTo == 1) src.AsSpan(s, inner).CopyTo(dst.AsSpan(t, inner));
                else
                    for (int i = 0; i < inner; i++) dst[t + i * innerTo] = src[s + i * innerFrom];
            }
        }

        long total = (long)rows * inner;
        if (total < ParallelElements || rows == 1) CopyRows(0, rows);
        else
        {
            int chunks = Math.Min(rows, Environment.ProcessorCount * 4);
            Parallel.For(0, chunks, c =>
            {
                int first = (int)((long)rows * c / chunks), next = (int)((long)rows * (c + 1) / chunks);
                CopyRows(first, next - first);
            });
        }
    }
}
