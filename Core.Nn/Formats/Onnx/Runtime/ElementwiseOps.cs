namespace Hybrid.Core.Nn.Formats.Onnx.Runtime;

/// <summary>Activations and arithmetic. Float32 goes through <see cref="Functional"/>; int64 (shape arithmetic) is
/// computed on the host; the few float forms Functional has no op for (Sqrt, Pow, Erf, general Clip) use
/// TensorPrimitives directly.</summary>
internal static class ElementwiseOps
{
    public static Func<OpContext, Kernel> Unary(Func<Tensor, Tensor> op) =>
        _ => inputs => [op(OpContext.Float32(inputs, 0, "X"))];

    /// <summary>A broadcasting binary op: float32 through <paramref name="floatOp"/>, int64 through <paramref name="intOp"/>.</summary>
    public static Func<OpContext, Kernel> Binary(Func<Tensor, Tensor, Tensor> floatOp, Func<long, long, long> intOp) => _ => inputs =>
    {
        var a = OpContext.Required(inputs, 0, "A");
        var b = OpContext.Required(inputs, 1, "B");
        if (a.Dtype != b.Dtype)
            throw OpContext.Fail($"operands {a.Dtype} {ShapeOps.Format(a.ShapeRef)} and {b.Dtype} {ShapeOps.Format(b.ShapeRef)} differ in type");
        return [a.Dtype == ScalarType.Int64 ? HostOps.Int64Binary(a, b, intOp) : floatOp(a, b)];
    };

    /// <summary>A broadcasting comparison; the boolean result is an int64 tensor of 0 and 1 (the session's bool).</summary>
    public static Func<OpContext, Kernel> Compare(Func<double, double, bool> test) => _ => inputs =>
    {
        var a = OpContext.Required(inputs, 0, "A");
        var b = OpContext.Required(inputs, 1, "B");
        var shape = ShapeOps.Broadcast(a.ShapeRef, b.ShapeRef);
        double[] left = HostOps.Expand(a, shape).ToDoubleArray(), right = HostOps.Expand(b, shape).ToDoubleArray();
        var result = new long[left.Length];
        for (int i = 0; i < result.Length; i++) result[i] = test(left[i], right[i]) ? 1 : 0;
        return [new Tensor(result, shape, a.Device)];
    };

    /// <summary>condition ? x : y element-wise with broadcasting (x and y share a type).</summary>
    public static Kernel Where(OpContext c) => inputs =>
    {
        var condition = OpContext.Required(inputs, 0, "condition");
        var x = OpContext.Required(inputs, 1, "X");
        var y = OpContext.Required(inputs, 2, "Y");
        if (x.Dtype != y.Dtype) throw OpContext.Fail($"X {x.Dtype} and Y {y.Dtype} differ in type");
        var shape = ShapeOps.Broadcast(ShapeOps.Broadcast(condition.ShapeRef, x.ShapeRef), y.ShapeRef);
        var pick = HostOps.Expand(condition, shape).ToDoubleArray();
        var (left, right) = (HostOps.Expand(x, shape), HostOps.Expand(y, shape));
        var result = left.ZerosLike();
        for (int i = 0; i < pick.Length; i++) Array.Copy(pick[i] != 0 ? left.Storage : right.Storage, i, result.Storage, i, 1);
        return [result];
    };

    /// <summary>Integer division truncating toward zero, as ONNX Runtime and C do.</summary>
    public static long IntegerDivide(long a, long b) => b != 0 ? a / b : throw OpContext.Fail("integer division by zero");

    public static Kernel Identity(OpContext c)
    {
        c.RequireOutputs(1);
        return inputs => [OpContext.Required(inputs, 0, "input")];
    }

    /// <summary>max(0, min(1, alpha x + beta)); PyTorch's hardsigmoid (alpha 1/6, beta 1/2) runs as Functional.Hardsigmoid.</summary>
    public static Kernel HardSigmoid(OpContext c)
    {
        double alpha = c.Float("alpha", 0.2f), beta = c.Float("beta", 0.5f);
        // float32(1/6) is what exporters write; relu6(6 a x + 6 b) / 6 is the same function for any other alpha and beta.
        if (Math.Abs(alpha - 1.0 / 6) < 1e-7 && beta == 0.5)
            return inputs => [Functional.Hardsigmoid(OpContext.Float32(inputs, 0, "X"))];
        return inputs => [Functional.Affine(Functional.Relu6(Functional.Affine(OpContext.Float32(inputs, 0, "X"), 6 * alpha, 6 * beta)), 1.0 / 6)];
    }

    /// <summary>Clip with bounds from inputs (opset 11+) or attributes; [0, 6] and [0, inf) run as Relu6 and Relu.</summary>
    public static Kernel Clip(OpContext c)
    {
        float attributeMin = c.Float("min", float.NegativeInfinity), attributeMax = c.Float("max", float.PositiveInfinity);
        return inputs =>
        {
            var x = OpContext.Float32(inputs, 0, "input");
            float min = c.Opset >= 11 ? Bound(inputs, 1, float.NegativeInfinity) : attributeMin;
            float max = c.Opset >= 11 ? Bound(inputs, 2, float.PositiveInfinity) : attributeMax;
            if (min == 0 && max == 6) return [Functional.Relu6(x)];
            if (min == 0 && float.IsPositiveInfinity(max)) return [Functional.Relu(x)];
            return [Map(x, (s, d) =>
            {
                TensorPrimitives.Max(s, min, d);
                TensorPrimitives.Min(d, max, d);
            })];
        };

        static float Bound(Tensor?[] inputs, int index, float fallback) =>
            index < inputs.Length && inputs[index] is { } t ? (float)t.Item() : fallback;
    }

    public static Kernel Sqrt(OpContext c) =>
        inputs => [Map(OpContext.Float32(inputs, 0, "X"), (s, d) => TensorPrimitives.Sqrt(s, d))];

    /// <summary>x ** y for a one-element exponent (LayerNorm's variance: y = 2 runs as x * x).</summary>
    public static Kernel Pow(OpContext c) => inputs =>
    {
        var x = OpContext.Float32(inputs, 0, "X");
        var y = OpContext.Required(inputs, 1, "Y");
        if (y.Numel != 1) throw OpContext.Fail($"only a one-element exponent is supported, not {ShapeOps.Format(y.ShapeRef)}");
        float exponent = (float)y.Item();
        if (exponent == 2) return [Functional.Mul(x, x)];
        return [Map(x, (s, d) => TensorPrimitives.Pow(s, exponent, d))];
    };

    public static Kernel Erf(OpContext c) => inputs => [Map(OpContext.Float32(inputs, 0, "X"), (s, d) =>
    {
        for (int i = 0; i < s.Length; i++) d[i] = ErfOf(s[i]);
    })];

    /// <summary>erf by Abramowitz and Stegun 7.1.26 evaluated in double: absolute error below 1.5e-7, under float32's
    /// resolution near 1.</summary>
    static float ErfOf(float value)
    {
        double x = Math.Abs(value);
        double t = 1 / (1 + 0.3275911 * x);
        double y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.Exp(-x * x);
        return (float)(value < 0 ? -y : y);
    }

    delegate void SpanMap(ReadOnlySpan<float> source, Span<float> destination);

    static Tensor Map(Tensor x, SpanMap map)
    {
        var result = x.ZerosLike();
        map(x.F32, result.F32);
        return result;
    }
}
