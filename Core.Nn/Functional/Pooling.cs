namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>F.max_pool2d on (N, C, H, W) or (C, H, W); stride defaults to the kernel; padding counts as -infinity.</summary>
    public static Tensor MaxPool2d(Tensor input, Size2 kernel, Size2? stride = null, Size2? padding = null, Size2? dilation = null,
        bool ceilMode = false)
    {
        var g = PoolGeometry.For("MaxPool2d", input, kernel, stride ?? kernel, padding ?? 0, dilation ?? 1, ceilMode);
        var output = Tensor.Zeros(input.Dtype, input.Device, PoolGeometry.OutputShape(input.ShapeRef, g.OutHeight, g.OutWidth));
        var winners = new int[output.Numel];
        MaxPoolLoops.Forward(g, input.Storage, output.Storage, winners);
        Trace.Record("MaxPool2d", output, [input], ("kernel", Pair(g.Kernel)), ("stride", Pair(g.Stride)),
            ("padding", Pair(g.Padding)), ("dilation", Pair(g.Dilation)), ("ceil_mode", ceilMode));
        return Autograd.Record(output, "MaxPool2d", grad =>
        {
            var gx = input.ZerosLike();
            MaxPoolLoops.Backward(g, grad.Storage, winners, gx.Storage);
            return [gx];
        }, input);
    }

    /// <summary>F.avg_pool2d on (N, C, H, W) or (C, H, W); stride defaults to the kernel.</summary>
    public static Tensor AvgPool2d(Tensor input, Size2 kernel, Size2? stride = null, Size2? padding = null, bool ceilMode = false,
        bool countIncludePad = true)
    {
        var g = PoolGeometry.For("AvgPool2d", input, kernel, stride ?? kernel, padding ?? 0, 1, ceilMode);
        var output = AveragePool("AvgPool2d", input, g, AvgPoolLoops.Fixed(g, countIncludePad));
        Trace.Record("AvgPool2d", output, [input], ("kernel", Pair(g.Kernel)), ("stride", Pair(g.Stride)),
            ("padding", Pair(g.Padding)), ("ceil_mode", ceilMode), ("count_include_pad", countIncludePad));
        return output;
    }

    /// <summary>F.adaptive_avg_pool2d on (N, C, H, W) or (C, H, W) with PyTorch's window bounds floor(i*H/out) .. ceil((i+1)*H/out).</summary>
    public static Tensor AdaptiveAvgPool2d(Tensor input, Size2 outputSize)
    {
        var (height, width) = PoolGeometry.PlaneSizes("AdaptiveAvgPool2d", input, out int planes);
        if (outputSize.H <= 0 || outputSize.W <= 0 || height == 0 || width == 0)
            throw new ArgumentException($"AdaptiveAvgPool2d: input {LayerOp.Describe(input)} and output size {outputSize} must be non-empty");
        var g = new PoolGeometry(planes, height, width, outputSize.H, outputSize.W, 1, 1, 0, 1);
        var output = AveragePool("AdaptiveAvgPool2d", input, g, AvgPoolLoops.Adaptive(g));
        Trace.Record("AdaptiveAvgPool2d", output, [input], ("output_size", Pair(outputSize)));
        return output;
    }

    static Tensor AveragePool(string op, Tensor input, PoolGeometry g, AvgPoolLoops.Window window)
    {
        var output = Tensor.Zeros(input.Dtype, input.Device, PoolGeometry.OutputShape(input.ShapeRef, g.OutHeight, g.OutWidth));
        AvgPoolLoops.Forward(g, window, input.Storage, output.Storage);
        return Autograd.Record(output, op, grad =>
        {
            var gx = input.ZerosLike();
            AvgPoolLoops.Backward(g, window, grad.Storage, gx.Storage);
            return [gx];
        }, input);
    }

    static int[] Pair(Size2 size) => [size.H, size.W];
}
