using System.Numerics;

namespace Hybrid.Core.Nn;

/// <summary>Average pooling, fixed-window (PyTorch's avg_pool2d divisors) and adaptive (windows floor(i*H/out) ..
/// ceil((i+1)*H/out)), forward and backward, generic in the element type and parallel over planes. Both read each output
/// as the mean of a rectangle of its plane, so one pair of loops serves both.</summary>
internal static class AvgPoolLoops
{
    /// <summary>The input rectangle [h0, h1) x [w0, w1) that output (i, j) averages, and the divisor of its sum.</summary>
    public delegate (int H0, int H1, int W0, int W1, int Divisor) Window(int i, int j);

    /// <summary>PyTorch's avg_pool2d windows: clipped to the input, divided by the window size clipped to the padded
    /// input (count_include_pad) or by the count of real elements.</summary>
    public static Window Fixed(PoolGeometry g, bool countIncludePad) => (i, j) =>
    {
        int h0 = i * g.Stride.H - g.Padding.H, w0 = j * g.Stride.W - g.Padding.W;
        int h1 = Math.Min(h0 + g.Kernel.H, g.Height + g.Padding.H), w1 = Math.Min(w0 + g.Kernel.W, g.Width + g.Padding.W);
        int padded = (h1 - h0) * (w1 - w0);
        (h0, w0, h1, w1) = (Math.Max(h0, 0), Math.Max(w0, 0), Math.Min(h1, g.Height), Math.Min(w1, g.Width));
        return (h0, h1, w0, w1, countIncludePad ? padded : (h1 - h0) * (w1 - w0));
    };

    /// <summary>Adaptive windows: floor(i*H/out) .. ceil((i+1)*H/out).</summary>
    public static Window Adaptive(PoolGeometry g) => (i, j) =>
    {
        int h0 = i * g.Height / g.OutHeight, h1 = ((i + 1) * g.Height + g.OutHeight - 1) / g.OutHeight;
        int w0 = j * g.Width / g.OutWidth, w1 = ((j + 1) * g.Width + g.OutWidth - 1) / g.OutWidth;
        return (h0, h1, w0, w1, (h1 - h0) * (w1 - w0));
    };

    public static void Forward(PoolGeometry g, Window window, Array x, Array y)
    {
        switch (x, y)
        {
            case (float[] a, float[] b): Forward(g, window, a, b); break;
            case (double[] a, double[] b): Forward(g, window, a, b); break;
            default: throw new ArgumentException("average pooling needs floating-point tensors");
        }
    }

    public static void Backward(PoolGeometry g, Window window, Array gradOut, Array gradInput)
    {
        switch (gradOut, gradInput)
        {
            case (float[] a, float[] b): Backward(g, window, a, b); break;
            case (double[] a, double[] b): Backward(g, window, a, b); break;
            default: throw new ArgumentException("average pooling needs floating-point tensors");
        }
    }

    static (int H0, int H1, int W0, int W1, int Divisor)[] Windows(PoolGeometry g, Window window)
    {
        var windows = new (int, int, int, int, int)[g.OutPlaneSize];
        for (int i = 0; i < g.OutHeight; i++)
        for (int j = 0; j < g.OutWidth; j++) windows[i * g.OutWidth + j] = window(i, j);
        return windows;
    }

    static long Work(PoolGeometry g) => (long)g.PlaneSize + g.OutPlaneSize * 4L;

    static void Forward<T>(PoolGeometry g, Window window, T[] x, T[] y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var windows = Windows(g, window);
        PoolGeometry.ForEachPlane(g.Planes, Work(g), p =>
        {
            int inBase = p * g.PlaneSize, outBase = p * g.OutPlaneSize;
            for (int o = 0; o < windows.Length; o++)
            {
                var (h0, h1, w0, w1, divisor) = windows[o];
                var sum = T.Zero;
                for (int h = h0; h < h1; h++)
                for (int w = w0; w < w1; w++) sum += x[inBase + h * g.Width + w];
                // An empty window (possible only in ceil mode) averages to 0, as in PyTorch.
                y[outBase + o] = divisor == 0 ? T.Zero : sum / T.CreateChecked(divisor);
            }
        });
    }

    static void Backward<T>(PoolGeometry g, Window window, T[] gradOut, T[] gradInput) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var windows = Windows(g, window);
        PoolGeometry.ForEachPlane(g.Planes, Work(g), p =>
        {
            int inBase = p * g.PlaneSize, outBase = p * g.OutPlaneSize;
            for (int o = 0; o < windows.Length; o++)
            {
                var (h0, h1, w0, w1, divisor) = windows[o];
                if (divisor == 0) continue;
                var share = gradOut[outBase + o] / T.CreateChecked(divisor);
                for (int h = h0; h < h1; h++)
                for (int w = w0; w < w1; w++) gradInput[inBase + h * g.Width + w] += share;
            }
        });
    }
}
