using System.Numerics;

namespace Hybrid.Core.Nn;

/// <summary>Max pooling forward (remembering each window's winner within its plane) and backward (routing each output
/// gradient to its winner), generic in the element type, parallel over planes. NaN wins, as in PyTorch.</summary>
internal static class MaxPoolLoops
{
    public static void Forward(PoolGeometry g, Array x, Array y, int[] winners)
    {
        switch (x, y)
        {
            case (float[] a, float[] b): Forward(g, a, b, winners); break;
            case (double[] a, double[] b): Forward(g, a, b, winners); break;
            default: throw new ArgumentException("max pooling needs floating-point tensors");
        }
    }

    public static void Backward(PoolGeometry g, Array gradOut, int[] winners, Array gradInput)
    {
        switch (gradOut, gradInput)
        {
            case (float[] a, float[] b): Backward(g, a, winners, b); break;
            case (double[] a, double[] b): Backward(g, a, winners, b); break;
            default: throw new ArgumentException("max pooling needs floating-point tensors");
        }
    }

    static void Forward<T>(PoolGeometry g, T[] x, T[] y, int[] winners) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Window bounds depend only on the output row or column, so they are computed once for all planes.
        var (rowFirst, rowEnd) = Bounds(g.OutHeight, g.Height, g.Kernel.H, g.Stride.H, g.Padding.H, g.Dilation.H);
        var (colFirst, colEnd) = Bounds(g.OutWidth, g.Width, g.Kernel.W, g.Stride.W, g.Padding.W, g.Dilation.W);
        int width = g.Width, outWidth = g.OutWidth, dh = g.Dilation.H, dw = g.Dilation.W, planeSize = g.PlaneSize, outPlaneSize = g.OutPlaneSize;
        PoolGeometry.ForEachPlane(g.Planes, (long)g.OutPlaneSize * g.Kernel.H * g.Kernel.W, p =>
        {
            int inBase = p * planeSize, outBase = p * outPlaneSize;
            for (int i = 0; i < rowFirst.Length; i++)
            for (int j = 0; j < outWidth; j++)
            {
                var best = T.NegativeInfinity;
                int winner = rowFirst[i] * width + colFirst[j];
                for (int h = rowFirst[i]; h < rowEnd[i]; h += dh)
                for (int w = colFirst[j]; w < colEnd[j]; w += dw)
                {
                    var v = x[inBase + h * width + w];
                    if (v > best || T.IsNaN(v))
                    {
                        best = v;
                        winner = h * width + w;
                        if (T.IsNaN(v)) goto done;
                    }
                }
                done:
                y[outBase + i * outWidth + j] = best;
                winners[outBase + i * outWidth + j] = winner;
            }
        });
    }

    /// <summary>For each output index, the first input index of its window inside the input and the end of the window.</summary>
    static (int[] First, int[] End) Bounds(int outputs, int size, int kernel, int stride, int pad, int dilation)
    {
        var (first, end) = (new int[outputs], new int[outputs]);
        for (int o = 0; o < outputs; o++)
        {
            int start = o * stride - pad;
            // The first tap at or after 0: padding taps are skipped whole dilation steps at a time.
            first[o] = start < 0 ? start + (-start + dilation - 1) / dilation * dilation : start;
            end[o] = Math.Min(start + (kernel - 1) * dilation + 1, size);
        }
        return (first, end);
    }

    static void Backward<T>(PoolGeometry g, T[] gradOut, int[] winners, T[] gradInput) where T : unmanaged, IFloatingPointIeee754<T>
    {
        PoolGeometry.ForEachPlane(g.Planes, g.OutPlaneSize, p =>
        {
            int inBase = p * g.PlaneSize, outBase = p * g.OutPlaneSize;
            for (int o = 0; o < g.OutPlaneSize; o++) gradInput[inBase + winners[outBase + o]] += gradOut[outBase + o];
        });
    }
}
