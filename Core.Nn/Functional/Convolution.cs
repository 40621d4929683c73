using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>PyTorch's F.conv2d: input (N, C, H, W), weight (O, C/groups, kH, kW), bias (O) or null. Float32 runs
    /// Core.Gpu's convolution on the input's device; float64 runs Core.Gpu's host loops.</summary>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, Size2? stride = null, Size2? padding = null,
        Size2? dilation = null, int groups = 1) =>
        ConvolutionOp(new LayerOp("Conv2d", input, weight, null, bias, null, MaskGradient.StraightThrough), "Conv2d",
            input, weight, stride, padding, dilation, groups);

    /// <summary>A convolution whose effective weight is weight * 1[weightMask > 0] (and bias * 1[biasMask > 0]); mask
    /// gradients follow <paramref name="rule"/> (straight-through, SeaM's clipped form).</summary>
    public static Tensor MaskedConv2d(Tensor input, Tensor weight, Tensor weightMask, Tensor? bias, Tensor? biasMask,
        Size2? stride = null, Size2? padding = null, Size2? dilation = null, int groups = 1,
        Gpu.MaskGradient rule = Gpu.MaskGradient.StraightThrough)
    {
        ArgumentNullException.ThrowIfNull(weightMask);
        return ConvolutionOp(new LayerOp("MaskedConv2d", input, weight, weightMask, bias, biasMask, rule), "MaskedConv2d",
            input, weight, stride, padding, dilation, groups);
    }

    static Tensor ConvolutionOp(LayerOp layer, string op, Tensor input, Tensor weight, Size2? stride, Size2? padding,
        Size2? dilation, int groups)
    {
        var s = ConvShape(op, input, weight.ShapeRef, LayerOp.Describe(weight), stride ?? 1, padding ?? 0, dilation ?? 1, groups);
        layer.CheckBias(s.OutChannels);
        return layer.Run([s.Batch, s.OutChannels, s.OutHeight, s.OutWidth],
            new PlainLayer((x, w, b, y) => Gpu.Conv2d.Forward(s, x, w, b, y),
                (x, w, g, gx, gw, gb) => Gpu.Conv2d.Backward(s, x, w, g, gx, gw, gb)),
            (p, x, y) => Gpu.Conv2d.Forward(s, p, x, y),
            (p, x, g, grads) => Gpu.Conv2d.Backward(s, p, x, g, grads),
            ("stride", new[] { s.StrideH, s.StrideW }), ("padding", new[] { s.PadH, s.PadW }),
            ("dilation", new[] { s.DilationH, s.DilationW }), ("groups", s.Groups),
            ("kernel", new[] { s.KernelH, s.KernelW }));
    }

    /// <summary>The geometry of a convolution, validated with the op's name and both shapes (the weight's as
    /// <paramref name="weightText"/>) in every message.</summary>
    static Conv2dShape ConvShape(string op, Tensor input, int[] w, string weightText, Size2 stride, Size2 padding, Size2 dilation,
        int groups)
    {
        string shapes = $"input {LayerOp.Describe(input)} and weight {weightText}";
        if (input.Dim != 4 || w.Length != 4)
            throw new ArgumentException($"{op}: {shapes}: input must be (N, C, H, W) and weight (O, C/groups, kH, kW)");
        if (groups <= 0) throw new ArgumentException($"{op}: {shapes}: groups must be positive, got {groups}");
        if (stride.H <= 0 || stride.W <= 0 || dilation.H <= 0 || dilation.W <= 0 || padding.H < 0 || padding.W < 0)
            throw new ArgumentException($"{op}: {shapes}: stride {stride} and dilation {dilation} must be positive, padding {padding} non-negative");
        int[] x = input.ShapeRef;
        if (x[1] != w[1] * groups)
            throw new ArgumentException($"{op}: {shapes}: input channels {x[1]} must equal weight dimension 1 ({w[1]}) times groups {groups}");
        if (w[0] % groups != 0 || w[0] == 0)
            throw new ArgumentException($"{op}: {shapes}: output channels {w[0]} must be a positive multiple of groups {groups}");
        if (w[2] == 0 || w[3] == 0)
            throw new ArgumentException($"{op}: {shapes}: the kernel must not be empty");
        var s = new Conv2dShape(x[0], x[1], x[2], x[3], w[0], w[2], w[3], stride.H, stride.W, padding.H, padding.W,
            dilation.H, dilation.W, groups);
        if (x[2] + 2 * padding.H < dilation.H * (w[2] - 1) + 1 || x[3] + 2 * padding.W < dilation.W * (w[3] - 1) + 1)
            throw new ArgumentException($"{op}: {shapes}: the padded input (padding {padding}) is smaller than the kernel (dilation {dilation})");
        return s;
    }
}
