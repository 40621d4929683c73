namespace Hybrid.Core.Gpu.Pooling;

/// <summary>Max pooling forward (remembering each window's winner within its plane) and backward (routing each output
/// gradient to its winner), generic in the element type, parallel over planes. NaN wins, as in PyTorch.</summary>
internal static class MaxPoolLoops
{
    public static void Forward<T>(in Pool2dShape g, T[] x, T[] y, int[] winners) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Window bounds depend only on the output row or column, so they are computed once for all planes.
        var (rowFirst, rowEnd) = Bounds(g.OutHeight, g.Height, g.KernelH, g.StrideH, g.PadH, g.DilationH);
        var (colFirst, colEnd) = Bounds(g.OutWidth, g.Width, g.KernelW, g.StrideW, g.PadW, g.DilationW);
        int width = g.Width, outWidth = g.OutWidth, dh = g.DilationH, dw = g.DilationW, planeSize = g.PlaneSize, outPlaneSize = g.OutPlaneSize;
        PlaneLoop.Run(g.Planes, (long)g.OutPlaneSize * g.KernelH * g.KernelW, p =>
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

    public static void Backward<T>(in Pool2dShape g, T[] gradOut, int[] winners, T[] gradInput) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int planeSize = g.PlaneSize, outPlaneSize = g.OutPlaneSize;
        PlaneLoop.Run(g.Planes, outPlaneSize, p =>
        {
            int inBase = p * planeSize, outBase = p * outPlaneSize;
            for (int o = 0; o < outPlaneSize; o++) gradInput[inBase + winners[outBase + o]] += gradOut[outBase + o];
        });
    }
}
