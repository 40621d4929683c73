namespace Hybrid.Core.Nn.Formats.Onnx.Runtime;

/// <summary>Pooling and reductions: MaxPool, AveragePool, GlobalAveragePool, ReduceMean.</summary>
internal static class PoolOps
{
    public static Kernel MaxPool(OpContext c)
    {
        var (spatial, kernel, window, ceil) = Read(c);
        if (c.Int("storage_order", 0) != 0) throw OpContext.Fail("storage_order 1 is not supported");
        c.RequireOutputs(1);
        // -infinity padding keeps padded cells from ever being the maximum, as the op's own padding does.
        return inputs => [Window.Spatial(OpContext.Float32(inputs, 0, "X"), spatial, x =>
            Functional.MaxPool2d(window.Prepad(x, double.NegativeInfinity), kernel, window.Stride, window.Padding, window.Dilation, ceil))];
    }

    public static Kernel AveragePool(OpContext c)
    {
        var (spatial, kernel, window, ceil) = Read(c);
        if (window.Dilation != new Size2(1, 1)) throw OpContext.Fail("dilated average pooling is not supported");
        bool countPad = c.Int("count_include_pad", 0) != 0;
        // Explicit zero padding would be counted in every window's divisor, which only count_include_pad allows.
        if (!window.Symmetric && !countPad)
            throw OpContext.Fail("asymmetric pads with count_include_pad 0 are not supported");
        return inputs => [Window.Spatial(OpContext.Float32(inputs, 0, "X"), spatial, x =>
            Functional.AvgPool2d(window.Prepad(x, 0), kernel, window.Stride, window.Padding, ceil, countPad))];
    }

    static (int Spatial, Size2 Kernel, Window Window, bool Ceil) Read(OpContext c)
    {
        var shape = c.Ints("kernel_shape") ?? throw OpContext.Fail("kernel_shape is required");
        int spatial = Window.SpatialAxes(shape.Length);
        var k = Window.Pairs(c, "kernel_shape", spatial, 1);
        if (k.Any(v => v <= 0)) throw OpContext.Fail($"kernel_shape [{string.Join(", ", shape)}] must be positive");
        return (spatial, new Size2(k[0], k[1]), Window.Read(c, spatial), c.Int("ceil_mode", 0) != 0);
    }

    /// <summary>The mean over every spatial axis, keeping them as size 1.</summary>
    public static Kernel GlobalAveragePool(OpContext c) => inputs =>
    {
        var x = OpContext.Float32(inputs, 0, "X");
        if (x.Dim < 3) throw OpContext.Fail($"input {ShapeOps.Format(x.ShapeRef)} has no spatial axes");
        return [x.Dim == 4 ? Functional.AdaptiveAvgPool2d(x, 1) : Functional.Mean(x, Enumerable.Range(2, x.Dim - 2).ToArray(), keepDim: true)];
    };

    /// <summary>Axes from the attribute (before opset 18) or the input; no axes means all of them unless
    /// noop_with_empty_axes.</summary>
    public static Kernel ReduceMean(OpContext c)
    {
        bool keep = c.Int("keepdims", 1) != 0, noop = c.Int("noop_with_empty_axes", 0) != 0;
        return inputs =>
        {
            var x = OpContext.Float32(inputs, 0, "data");
            var axes = c.AttributeOrInput("axes", inputs, 1, 18);
            if (axes is null || axes.Length == 0)
            {
                if (noop) return [x];
                axes = Enumerable.Range(0, x.Dim).Select(a => (long)a).ToArray();
            }
            var dims = axes.Select(a => OpContext.Axis(a, x.Dim)).Distinct().Order().ToArray();
            return [Functional.Mean(x, dims, keep)];
        };
    }
}
