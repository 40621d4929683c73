namespace Hybrid.Core.Nn.Formats.Onnx.Runtime;

/// <summary>The layers with weights (Conv, Gemm, MatMul, BatchNormalization, LayerNormalization) and Softmax, as
/// Functional ops.</summary>
internal static class NeuralOps
{
    public static Kernel Conv(OpContext c)
    {
        int spatial = Window.SpatialAxes(c.Ints("kernel_shape")?.Length ?? c.Ints("strides")?.Length
            ?? c.Ints("dilations")?.Length ?? (c.Ints("pads")?.Length / 2) ?? 2);
        var window = Window.Read(c, spatial);
        var kernelShape = c.Ints("kernel_shape");
        long groups = c.Int("group", 1);
        if (groups is <= 0 or > int.MaxValue) throw OpContext.Fail($"group {groups} must be positive");
        return inputs =>
        {
            var x = OpContext.Float32(inputs, 0, "X");
            var w = OpContext.Float32(inputs, 1, "W");
            var b = inputs.Length > 2 && inputs[2] is not null ? OpContext.Float32(inputs, 2, "B") : null;
            if (w.Dim != spatial + 2)
                throw OpContext.Fail($"weight {ShapeOps.Format(w.ShapeRef)} must have {spatial + 2} dimensions");
            if (kernelShape is not null && !kernelShape.SequenceEqual(w.ShapeRef[2..].Select(d => (long)d)))
                throw OpContext.Fail($"kernel_shape [{string.Join(", ", kernelShape)}] disagrees with weight {ShapeOps.Format(w.ShapeRef)}");
            var weight = spatial == 2 ? w : Functional.Reshape(w, w.ShapeRef[0], w.ShapeRef[1], 1, w.ShapeRef[2]);
            return [Window.Spatial(x, spatial, x4 =>
                Functional.Conv2d(window.Prepad(x4, 0), weight, b, window.Stride, window.Padding, window.Dilation, (int)groups))];
        };
    }

    /// <summary>alpha * A' B' + beta * C; the common form (alpha = beta = 1, C a vector) is one Functional.Linear.</summary>
    public static Kernel Gemm(OpContext c)
    {
        double alpha = c.Float("alpha", 1), beta = c.Float("beta", 1);
        bool transA = c.Int("transA", 0) != 0, transB = c.Int("transB", 0) != 0;
        return inputs =>
        {
            var a = OpContext.Float32(inputs, 0, "A");
            var b = OpContext.Float32(inputs, 1, "B");
            var bias = inputs.Length > 2 && inputs[2] is not null ? OpContext.Float32(inputs, 2, "C") : null;
            if (a.Dim != 2 || b.Dim != 2)
                throw OpContext.Fail($"A {ShapeOps.Format(a.ShapeRef)} and B {ShapeOps.Format(b.ShapeRef)} must be matrices");
            var left = transA ? Functional.Transpose(a, 0, 1) : a;
            // Linear multiplies by the transpose of its weight, which is B itself when transB is set.
            var weight = transB ? b : Functional.Transpose(b, 0, 1);
            bool fused = bias is not null && alpha == 1 && beta == 1 && bias.Dim == 1 && bias.ShapeRef[0] == weight.ShapeRef[0];
            var y = Functional.Linear(left, weight, fused ? bias : null);
            if (alpha != 1) y = Functional.Affine(y, alpha);
            if (bias is not null && !fused) y = Functional.Add(y, beta == 1 ? bias : Functional.Affine(bias, beta));
            return [y];
        };
    }

    public static Kernel MatMul(OpContext c) =>
        inputs => [Functional.Matmul(OpContext.Float32(inputs, 0, "A"), OpContext.Float32(inputs, 1, "B"))];

    /// <summary>Inference form only: the running statistics normalise.</summary>
    public static Kernel BatchNormalization(OpContext c)
    {
        if (c.Int("training_mode", 0) != 0) throw OpContext.Fail("training_mode 1 is not supported (inference only)");
        c.RequireOutputs(1);
        double eps = c.Float("epsilon", 1e-5f);
        return inputs =>
        {
            var x = OpContext.Float32(inputs, 0, "X");
            return [Functional.BatchNorm(x, OpContext.Float32(inputs, 3, "input_mean"), OpContext.Float32(inputs, 4, "input_var"),
                OpContext.Float32(inputs, 1, "scale"), OpContext.Float32(inputs, 2, "B"), training: false, eps: eps)];
        };
    }

    /// <summary>Opset 17's LayerNormalization over the axes from <c>axis</c> (default -1) to the last; Scale and B must
    /// broadcast against them. The optional Mean and InvStdDev outputs are refused.</summary>
    public static Kernel LayerNormalization(OpContext c)
    {
        c.RequireOutputs(1);
        long axis = c.Int("axis", -1);
        double eps = c.Float("epsilon", 1e-5f);
        return inputs =>
        {
            var x = OpContext.Float32(inputs, 0, "X");
            var scale = OpContext.Float32(inputs, 1, "Scale");
            var b = inputs.Length > 2 && inputs[2] is not null ? OpContext.Float32(inputs, 2, "B") : null;
            var normalized = x.ShapeRef[OpContext.Axis(axis, x.Dim)..];
            // The common form, Scale and B of the normalised shape itself, is one fused op.
            if (ShapeOps.Equal(scale.ShapeRef, normalized) && (b is null || ShapeOps.Equal(b.ShapeRef, normalized)))
                return [Functional.LayerNorm(x, normalized, scale, b, eps)];
            var y = Functional.Mul(Functional.LayerNorm(x, normalized, eps: eps), scale);
            return [b is null ? y : Functional.Add(y, b)];
        };
    }

    /// <summary>Softmax and LogSoftmax. Opset 13+: along one axis (default -1). Before 13: the input is seen as 2-D, dimensions before
    /// axis (default 1) flattened into rows, and each row is normalised as a whole.</summary>
    public static Func<OpContext, Kernel> Softmax(Func<Tensor, int, Tensor> softmax) => c =>
    {
        bool perAxis = c.Opset >= 13;
        long axis = c.Int("axis", perAxis ? -1 : 1);
        return inputs =>
        {
            var x = OpContext.Float32(inputs, 0, "input");
            int a = OpContext.Axis(axis, Math.Max(x.Dim, 1));
            if (perAxis || x.Dim == 0) return [softmax(x, a)];
            var s = x.ShapeRef;
            var rows = Functional.Reshape(x, ShapeOps.Numel(s.AsSpan(0, a)), ShapeOps.Numel(s.AsSpan(a)));
            return [Functional.Reshape(softmax(rows, 1), s)];
        };
    };
}
