using Hybrid.Core.Gpu.Pooling;

namespace Hybrid.Core.Gpu;

/// <summary>Max and average 2-D pooling, forward and backward, on host arrays of float32 or float64 (PyTorch's
/// semantics: NaN wins a max window, padding never does; an empty ceil-mode window averages to 0). Pooling has one
/// implementation, plain loops parallel over planes, used by every device as element-wise work is; the PyTorch golden
/// values of the tests are its specification.</summary>
public static class Pool2d
{
    /// <summary>y = the max of each window; <paramref name="winners"/> receives each output's winning index within its
    /// plane, for <see cref="MaxBackward{T}"/>.</summary>
    public static void MaxForward<T>(Pool2dShape s, T[] x, T[] y, int[] winners) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(s, x, "input", y, "output");
        Validate.Host(winners, "winners", s.OutputLength, s);
        MaxPoolLoops.Forward(s, x, y, winners);
    }

    /// <summary>gradInput[winner] += gradOut for every output (gradInput is accumulated into, not overwritten).</summary>
    public static void MaxBackward<T>(Pool2dShape s, T[] gradOut, int[] winners, T[] gradInput) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(s, gradInput, "input gradient", gradOut, "output gradient");
        Validate.Host(winners, "winners", s.OutputLength, s);
        MaxPoolLoops.Backward(s, gradOut, winners, gradInput);
    }

    /// <summary>y = the mean of each output's window, chosen by <paramref name="windows"/>.</summary>
    public static void AverageForward<T>(Pool2dShape s, AverageWindows windows, T[] x, T[] y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(s, x, "input", y, "output");
        AvgPoolLoops.Forward(s, windows, x, y);
    }

    /// <summary>Each output gradient shared evenly over its window (gradInput is accumulated into, not overwritten).</summary>
    public static void AverageBackward<T>(Pool2dShape s, AverageWindows windows, T[] gradOut, T[] gradInput)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(s, gradInput, "input gradient", gradOut, "output gradient");
        AvgPoolLoops.Backward(s, windows, gradOut, gradInput);
    }

    static void Check<T>(in Pool2dShape s, T[] input, string inputName, T[] output, string outputName)
    {
        Validate.NonNegative(s.Planes, "planes", s);
        Validate.Positive(s, ("height", s.Height), ("width", s.Width), ("output height", s.OutHeight), ("output width", s.OutWidth));
        Validate.Window(s.KernelH, s.KernelW, s.StrideH, s.StrideW, s.PadH, s.PadW, s.DilationH, s.DilationW, s);
        Validate.Host(input, inputName, s.InputLength, s);
        Validate.Host(output, outputName, s.OutputLength, s);
    }
}
