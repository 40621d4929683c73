namespace Hybrid.Core.Nn.Formats.Onnx.Runtime;

/// <summary>
/// The sliding-window attributes Conv, MaxPool and AveragePool share, for 2-D windows: strides, dilations and ONNX's
/// pads [top, left, bottom, right]. Functional's ops take one symmetric padding per axis, so asymmetric pads become an
/// explicit Pad before the op.
/// </summary>
internal sealed record Window(Size2 Stride, Size2 Dilation, int Top, int Left, int Bottom, int Right)
{
    /// <summary>Reads the attributes; <paramref name="spatial"/> is the number of spatial axes (1 or 2).</summary>
    public static Window Read(OpContext c, int spatial)
    {
        c.RequireExplicitPads();
        var strides = Pairs(c, "strides", spatial, 1);
        var dilations = Pairs(c, "dilations", spatial, 1);
        var pads = c.String("auto_pad", "NOTSET") == "VALID" ? null : c.Ints("pads");
        if (pads is not null && pads.Length != 2 * spatial)
            throw OpContext.Fail($"pads [{string.Join(", ", pads)}] must hold {2 * spatial} values for {spatial} spatial axes");
        if (pads is not null && pads.Any(p => p < 0 || p > int.MaxValue))
            throw OpContext.Fail($"pads [{string.Join(", ", pads)}] must be non-negative");
        if (strides.Concat(dilations).Any(v => v <= 0))
            throw OpContext.Fail("strides and dilations must be positive");
        // A 1-D window runs as 2-D with a height of 1.
        int[] p = pads is null ? new int[4] : spatial == 2
            ? pads.Select(v => (int)v).ToArray()
            : [0, (int)pads[0], 0, (int)pads[1]];
        return new Window(new Size2(strides[0], strides[1]), new Size2(dilations[0], dilations[1]), p[0], p[1], p[2], p[3]);
    }

    /// <summary>An ints attribute of one value per spatial axis as (height, width); 1-D gives (1, value).</summary>
    public static int[] Pairs(OpContext c, string name, int spatial, int fallback)
    {
        var values = c.Ints(name);
        if (values is null) return [fallback, fallback];
        if (values.Length != spatial || values.Any(v => v < int.MinValue || v > int.MaxValue))
            throw OpContext.Fail($"{name} [{string.Join(", ", values)}] must hold {spatial} values");
        return spatial == 2 ? [(int)values[0], (int)values[1]] : [1, (int)values[0]];
    }

    public bool Symmetric => Top == Bottom && Left == Right;

    /// <summary>The padding Functional's op gets: the pads themselves when symmetric, else none (see <see cref="Prepad"/>).</summary>
    public Size2 Padding => Symmetric ? new Size2(Top, Left) : new Size2(0, 0);

    /// <summary>The input padded explicitly with <paramref name="value"/> when the pads are asymmetric, else the input.</summary>
    public Tensor Prepad(Tensor x, double value) =>
        Symmetric ? x : Functional.Pad(x, [Left, Right, Top, Bottom], value);

    /// <summary>Runs <paramref name="op"/> on 4-D (N, C, H, W) input; 3-D (N, C, L) input runs with a height of 1.</summary>
    public static Tensor Spatial(Tensor x, int spatial, Func<Tensor, Tensor> op)
    {
        if (x.Dim != spatial + 2)
            throw OpContext.Fail($"input {ShapeOps.Format(x.ShapeRef)} must have {spatial + 2} dimensions");
        if (spatial == 2) return op(x);
        var s = x.ShapeRef;
        var y = op(Functional.Reshape(x, s[0], s[1], 1, s[2]));
        return Functional.Reshape(y, y.ShapeRef[0], y.ShapeRef[1], y.ShapeRef[3]);
    }

    /// <summary>The number of spatial axes, from the kernel_shape attribute or the weight's rank.</summary>
    public static int SpatialAxes(int count)
    {
        if (count is not (1 or 2)) throw OpContext.Fail($"{count}-D windows are not supported (1-D and 2-D are)");
        return count;
    }
}
