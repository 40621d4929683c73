using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>The geometry of a 2-D pooling over the planes of a (N, C, H, W) or (C, H, W) tensor as Core.Gpu's
/// <see cref="Pool2dShape"/>, with PyTorch's output sizes (ceil mode drops a last window that would start in the right
/// padding) and PyTorch's checks, whose messages name the op, the input shape and the settings.</summary>
internal static class PoolGeometry
{
    /// <summary>The output shape: the input's leading dimensions, then (OutHeight, OutWidth).</summary>
    public static int[] OutputShape(int[] input, in Pool2dShape s) => [.. input[..^2], s.OutHeight, s.OutWidth];

    /// <summary>Validates a pooling call and computes its geometry.</summary>
    public static Pool2dShape For(string op, Tensor input, Size2 kernel, Size2 stride, Size2 padding, Size2 dilation, bool ceilMode)
    {
        var (height, width) = PlaneSizes(op, input, out int planes);
        string settings = $"input {LayerOp.Describe(input)}, kernel {kernel}, stride {stride}, padding {padding}, dilation {dilation}";
        if (kernel.H <= 0 || kernel.W <= 0 || stride.H <= 0 || stride.W <= 0 || dilation.H <= 0 || dilation.W <= 0)
            throw new ArgumentException($"{op}: {settings}: kernel, stride and dilation must be positive");
        if (padding.H < 0 || padding.W < 0 || padding.H > kernel.H / 2 || padding.W > kernel.W / 2)
            throw new ArgumentException($"{op}: {settings}: padding must be non-negative and at most half the kernel");
        int outHeight = OutputSize(height, kernel.H, stride.H, padding.H, dilation.H, ceilMode);
        int outWidth = OutputSize(width, kernel.W, stride.W, padding.W, dilation.W, ceilMode);
        if (outHeight <= 0 || outWidth <= 0)
            throw new ArgumentException($"{op}: {settings}: the output would be {outHeight}x{outWidth}, too small an input");
        return new Pool2dShape(planes, height, width, outHeight, outWidth, kernel.H, kernel.W, stride.H, stride.W, padding.H, padding.W,
            dilation.H, dilation.W);
    }

    /// <summary>Height and width of a 3-D or 4-D input, and how many planes it holds.</summary>
    public static (int Height, int Width) PlaneSizes(string op, Tensor input, out int planes)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Dim is not (3 or 4) || !input.IsFloatingPoint)
            throw new ArgumentException($"{op}: input {LayerOp.Describe(input)} must be a floating-point (N, C, H, W) or (C, H, W) tensor");
        var s = input.ShapeRef;
        planes = ShapeOps.Numel(s.AsSpan(0, s.Length - 2));
        return (s[^2], s[^1]);
    }

    static int OutputSize(int size, int kernel, int stride, int pad, int dilation, bool ceilMode)
    {
        int span = size + 2 * pad - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0);
        int output = (int)Math.Floor((double)span / stride) + 1;
        if (ceilMode && (output - 1) * stride >= size + pad) output--;
        return output;
    }
}
