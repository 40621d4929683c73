namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Whole-matrix transposes on the host. A row-major (rows, cols) float matrix becomes its (cols, rows) transpose
/// in 8 x 8 register blocks (<see cref="Simd.Transpose8x8(float*, long, float*, long)"/>), with scalar moves only on the
/// ragged edges: a first layer that multiplies sparse rows by W^T transposes its weight and its gradient, slab by slab, on
/// every training step, and the scalar loop spent longer on that than the layer's arithmetic. A transpose only moves
/// values, so any split of the work gives the same result.</summary>
public static unsafe class Transposition
{
    const int Block = 8, Band = 16;

    /// <summary>Writes the (cols, rows) transpose of the row-major (rows, cols) <paramref name="source"/> into the first
    /// rows * cols elements of <paramref name="result"/> and returns it; bands of 16 source rows run in parallel.</summary>
    public static float[] Transpose(float[] source, int rows, int cols, float[] result)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(result);
        CheckSizes(rows, cols, source.Length, result.Length);
        int bands = (rows + Band - 1) / Band;
        Ranges.ByWork(bands, (long)Band * cols, (first, count) =>
        {
            fixed (float* s = source, d = result)
                for (int band = first; band < first + count; band++)
                    TransposeBand(s, d, rows, cols, band * Band);
        });
        return result;
    }

    /// <summary>The same transpose of the (rows, cols) matrix at the start of <paramref name="source"/> into the start of
    /// <paramref name="result"/>, on the calling thread: for callers that already share the cores out, transposing a
    /// slab small enough to stay in cache.</summary>
    public static void Serial(ReadOnlySpan<float> source, int rows, int cols, Span<float> result)
    {
        CheckSizes(rows, cols, source.Length, result.Length);
        fixed (float* s = source, d = result)
            Serial(s, rows, cols, d);
    }

    /// <summary>The same serial transpose between raw buffers, which the caller has sized: for kernels that move planes
    /// in and out of their own scratch (a convolution's channel-last copies of each image).</summary>
    internal static void Serial(float* source, int rows, int cols, float* result)
    {
        for (int r0 = 0; r0 < rows; r0 += Band)
            TransposeBand(source, result, rows, cols, r0);
    }

    /// <summary>Refuses a shape that is negative or does not fit the source or the result.</summary>
    static void CheckSizes(int rows, int cols, int sourceLength, int resultLength)
    {
        long size = (long)rows * cols;
        if (rows < 0 || cols < 0 || sourceLength < size || resultLength < size)
            throw new ArgumentException(
                $"Transpose: a ({rows}, {cols}) matrix needs {size} elements; source has {sourceLength}, result {resultLength}");
    }

    /// <summary>Source rows [r0, r0 + 16) (fewer at the bottom edge) into destination columns [r0, r0 + 16): both 8 x 8
    /// blocks of a column block at once, so each destination row gets 16 consecutive floats, a whole cache line, in one
    /// visit rather than half a line in each of two bands far apart.</summary>
    static void TransposeBand(float* source, float* destination, int rows, int cols, int r0)
    {
        int height = Math.Min(Band, rows - r0), full = height / Block * Block;
        int c = full > 0 ? cols - cols % Block : 0;
        for (int cc = 0; cc < c; cc += Block)
            for (int h = 0; h < full; h += Block)
                Simd.Transpose8x8(source + (long)(r0 + h) * cols + cc, cols, destination + (long)cc * rows + r0 + h, rows);
        // The ragged edges: the columns past the last whole block for the rows done above, every column for the rest.
        for (int r = r0; r < r0 + height; r++)
            for (int cc = r < r0 + full ? c : 0; cc < cols; cc++)
                destination[(long)cc * rows + r] = source[(long)r * cols + cc];
    }
}
