using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>F.max_pool2d on (N, C, H, W) or (C, H, W); stride defaults to the kernel; padding counts as -infinity.</summary>
    public static Tensor MaxPool2d(Tensor input, Size2 kernel, Size2? stride = null, Size2? padding = null, Size2? dilation = null,
        bool ceilMode = false)
    {
        var g = PoolGeometry.For("MaxPool2d", input, kernel, stride ?? kernel, padding ?? 0, dilation ?? 1, ceilMode);
        var output = Tensor.Zeros(input.Dtype, input.Device, PoolGeometry.OutputShape(input.ShapeRef, g));
        var winners = new int[output.Numel];
        Typed(input, output, new MaxForward(g, winners));
        Trace.Record("MaxPool2d", output, [input], ("kernel", new[] { g.KernelH, g.KernelW }), ("stride", new[] { g.StrideH, g.StrideW }),
            ("padding", new[] { g.PadH, g.PadW }), ("dilation", new[] { g.DilationH, g.DilationW }), ("ceil_mode", ceilMode));
        return Autograd.Record(output, "MaxPool2d", grad =>
        {
            var gx = input.ZerosLike();
            Typed(grad, gx, new MaxBackward(g, winners));
            return [gx];
        }, input);
    }

    /// <summary>F.avg_pool2d on (N, C, H, W) or (C, H, W); stride defaults to the kernel.</summary>
    public static Tensor AvgPool2d(Tensor input, Size2 kernel, Size2? stride = null, Size2? padding = null, bool ceilMode = false,
        bool countIncludePad = true)
    {
        var g = PoolGeometry.For("AvgPool2d", input, kernel, stride ?? kernel, padding ?? 0, 1, ceilMode);
        var output = AveragePool("AvgPool2d", input, g, countIncludePad ? AverageWindows.IncludePad : AverageWindows.ExcludePad);
        Trace.Record("AvgPool2d", output, [input], ("kernel", new[] { g.KernelH, g.KernelW }), ("stride", new[] { g.StrideH, g.StrideW }),
            ("padding", new[] { g.PadH, g.PadW }), ("ceil_mode", ceilMode), ("count_include_pad", countIncludePad));
        return output;
    }

    /// <summary>F.adaptive_avg_pool2d on (N, C, H, W) or (C, H, W) with PyTorch's window bounds floor(i*H/out) .. ceil((i+1)*H/out).</summary>
    public static Tensor AdaptiveAvgPool2d(Tensor input, Size2 outputSize)
    {
        var (height, width) = PoolGeometry.PlaneSizes("AdaptiveAvgPool2d", input, out int planes);
        if (outputSize.H <= 0 || outputSize.W <= 0 || height == 0 || width == 0)
            throw new ArgumentException($"AdaptiveAvgPool2d: input {LayerOp.Describe(input)} and output size {outputSize} must be non-empty");
        var g = new Pool2dShape(planes, height, width, outputSize.H, outputSize.W);
        var output = AveragePool("AdaptiveAvgPool2d", input, g, AverageWindows.Adaptive);
        Trace.Record("AdaptiveAvgPool2d", output, [input], ("output_size", new[] { outputSize.H, outputSize.W }));
        return output;
    }

    static Tensor AveragePool(string op, Tensor input, Pool2dShape g, AverageWindows windows)
    {
        var output = Tensor.Zeros(input.Dtype, input.Device, PoolGeometry.OutputShape(input.ShapeRef, g));
        Typed(input, output, new AverageForward(g, windows));
        var (dtype, device, inShape) = (input.Dtype, input.Device, input.ShapeRef);
        return Autograd.Record(output, op, grad =>
        {
            // Averaging needs the input's shape only, not its values.
            var gx = Tensor.Zeros(dtype, device, inShape);
            Typed(grad, gx, new AverageBackward(g, windows));
            return [gx];
        }, input);
    }

    /// <summary>A pooling pass from one host array to another, written once for both element types.</summary>
    interface IPoolPass
    {
        void Run<T>(T[] from, T[] to) where T : unmanaged, IFloatingPointIeee754<T>;
    }

    /// <summary>Runs <paramref name="pass"/> on the float32 or float64 storage of <paramref name="from"/> and
    /// <paramref name="to"/> (same dtype: the callers made <paramref name="to"/> from <paramref name="from"/>).</summary>
    static void Typed<TPass>(Tensor from, Tensor to, TPass pass) where TPass : struct, IPoolPass
    {
        switch (from.Storage, to.Storage)
        {
            case (float[] x, float[] y): pass.Run(x, y); break;
            case (double[] x, double[] y): pass.Run(x, y); break;
        }
    }

    readonly record struct MaxForward(Pool2dShape Shape, int[] Winners) : IPoolPass
    {
        public void Run<T>(T[] x, T[] y) where T : unmanaged, IFloatingPointIeee754<T> => Pool2d.MaxForward(Shape, x, y, Winners);
    }

    readonly record struct MaxBackward(Pool2dShape Shape, int[] Winners) : IPoolPass
    {
        public void Run<T>(T[] gy, T[] gi) where T : unmanaged, IFloatingPointIeee754<T> => Pool2d.MaxBackward(Shape, gy, Winners, gi);
    }

    readonly record struct AverageForward(Pool2dShape Shape, AverageWindows Windows) : IPoolPass
    {
        public void Run<T>(T[] x, T[] y) where T : unmanaged, IFloatingPointIeee754<T> => Pool2d.AverageForward(Shape, Windows, x, y);
    }

    readonly record struct AverageBackward(Pool2dShape Shape, AverageWindows Windows) : IPoolPass
    {
        public void Run<T>(T[] gy, T[] gi) where T : unmanaged, IFloatingPointIeee754<T> => Pool2d.AverageBackward(Shape, Windows, gy, gi);
    }
}
