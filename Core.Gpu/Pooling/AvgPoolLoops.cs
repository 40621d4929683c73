namespace Hybrid.Core.Gpu.Pooling;

/// <summary>Average pooling, fixed-window (PyTorch's avg_pool2d divisors) and adaptive, forward and backward, generic in
/// the element type and parallel over planes. Both read each output as the mean of a rectangle of its plane, so one pair
/// of loops serves both; the rectangles depend only on the output position and are computed once for all planes.</summary>
internal static class AvgPoolLoops
{
    public static void Forward<T>(in Pool2dShape s, AverageWindows mode, T[] x, T[] y) where T : unmanaged, IFloatingPointIeee754<T> =>
        Run<T, Mean<T>>(s, mode, x, y);

    public static void Backward<T>(in Pool2dShape s, AverageWindows mode, T[] gradOut, T[] gradInput) where T : unmanaged, IFloatingPointIeee754<T> =>
        Run<T, Spread<T>>(s, mode, gradOut, gradInput);

    /// <summary>What one pass does with one window of a plane; a struct, so each pass is compiled into the loop.</summary>
    interface IWindowPass<T>
    {
        static abstract void Apply((int H0, int H1, int W0, int W1, int Divisor) window, T[] from, T[] to, int inBase, int output, int width);
    }

    // y[output] = the window's mean of x.
    readonly struct Mean<T> : IWindowPass<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Apply((int H0, int H1, int W0, int W1, int Divisor) window, T[] x, T[] y, int inBase, int output, int width)
        {
            var (h0, h1, w0, w1, divisor) = window;
            var sum = T.Zero;
            for (int h = h0; h < h1; h++)
                for (int w = w0; w < w1; w++) sum += x[inBase + h * width + w];
            // An empty window (possible only in ceil mode) averages to 0, as in PyTorch.
            y[output] = divisor == 0 ? T.Zero : sum / T.CreateChecked(divisor);
        }
    }

    // gradOut[output] shared equally over the window's inputs.
    readonly struct Spread<T> : IWindowPass<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Apply((int H0, int H1, int W0, int W1, int Divisor) window, T[] gradOut, T[] gradInput, int inBase, int output,
            int width)
        {
            var (h0, h1, w0, w1, divisor) = window;
            if (divisor == 0) return;
            var share = gradOut[output] / T.CreateChecked(divisor);
            for (int h = h0; h < h1; h++)
                for (int w = w0; w < w1; w++) gradInput[inBase + h * width + w] += share;
        }
    }

    static void Run<T, TPass>(in Pool2dShape s, AverageWindows mode, T[] from, T[] to) where TPass : struct, IWindowPass<T>
    {
        var windows = Windows(s, mode);
        int planeSize = s.PlaneSize, outPlaneSize = s.OutPlaneSize, width = s.Width;
        PlaneLoop.Run(s.Planes, Work(s), p =>
        {
            int inBase = p * planeSize, outBase = p * outPlaneSize;
            for (int o = 0; o < windows.Length; o++) TPass.Apply(windows[o], from, to, inBase, outBase + o, width);
        });
    }

    /// <summary>For each output (i, j) of a plane, the input rectangle [h0, h1) x [w0, w1) it averages and the divisor of its sum.</summary>
    static (int H0, int H1, int W0, int W1, int Divisor)[] Windows(in Pool2dShape s, AverageWindows mode)
    {
        var windows = new (int, int, int, int, int)[s.OutPlaneSize];
        for (int i = 0; i < s.OutHeight; i++)
            for (int j = 0; j < s.OutWidth; j++) windows[i * s.OutWidth + j] = mode == AverageWindows.Adaptive ? Adaptive(s, i, j) : Fixed(s, mode, i, j);
        return windows;
    }

    /// <summary>PyTorch's avg_pool2d windows: clipped to the input, divided by the window size clipped to the padded
    /// input (count_include_pad) or by the count of real elements.</summary>
    static (int, int, int, int, int) Fixed(in Pool2dShape s, AverageWindows mode, int i, int j)
    {
        int h0 = i * s.StrideH - s.PadH, w0 = j * s.StrideW - s.PadW;
        int h1 = Math.Min(h0 + s.KernelH, s.Height + s.PadH), w1 = Math.Min(w0 + s.KernelW, s.Width + s.PadW);
        int padded = (h1 - h0) * (w1 - w0);
        (h0, w0, h1, w1) = (Math.Max(h0, 0), Math.Max(w0, 0), Math.Min(h1, s.Height), Math.Min(w1, s.Width));
        return (h0, h1, w0, w1, mode == AverageWindows.IncludePad ? padded : (h1 - h0) * (w1 - w0));
    }

    /// <summary>Adaptive windows: floor(i*H/out) .. ceil((i+1)*H/out).</summary>
    static (int, int, int, int, int) Adaptive(in Pool2dShape s, int i, int j)
    {
        int h0 = i * s.Height / s.OutHeight, h1 = ((i + 1) * s.Height + s.OutHeight - 1) / s.OutHeight;
        int w0 = j * s.Width / s.OutWidth, w1 = ((j + 1) * s.Width + s.OutWidth - 1) / s.OutWidth;
        return (h0, h1, w0, w1, (h1 - h0) * (w1 - w0));
    }

    static long Work(in Pool2dShape s) => (long)s.PlaneSize + s.OutPlaneSize * 4L;
}
