namespace Hybrid.Core.Nn.Formats.Onnx.Runtime;

/// <summary>Ops that move elements without arithmetic. Float32 tensors go through <see cref="Functional"/>; int64 tensors
/// (shape values) and the forms Functional lacks (negative slice steps, gathers, broadcasts) through <see cref="HostOps"/>.</summary>
internal static class LayoutOps
{
    /// <summary>The tensor in a new shape of equal size, for either element type.</summary>
    public static Tensor Reshaped(Tensor t, int[] shape) =>
        t.Dtype == ScalarType.Float32 ? Functional.Reshape(t, shape) : HostOps.Reshape(t, shape);

    public static Kernel Flatten(OpContext c)
    {
        long axis = c.Int("axis", 1);
        return inputs =>
        {
            var x = OpContext.Required(inputs, 0, "input");
            // axis may equal the rank (everything in the first dimension).
            int a = axis == x.Dim ? x.Dim : OpContext.Axis(axis, x.Dim + (axis < 0 ? 0 : 1));
            var s = x.ShapeRef;
            return [Reshaped(x, [ShapeOps.Numel(s.AsSpan(0, a)), ShapeOps.Numel(s.AsSpan(a))])];
        };
    }

    /// <summary>0 copies the input's dimension (unless allowzero), one -1 is inferred.</summary>
    public static Kernel Reshape(OpContext c)
    {
        bool allowZero = c.Int("allowzero", 0) != 0;
        return inputs =>
        {
            var x = OpContext.Required(inputs, 0, "data");
            var target = c.AttributeOrInput("shape", inputs, 1, 5) ?? throw OpContext.Fail("the shape is missing");
            var shape = new int[target.Length];
            for (int i = 0; i < target.Length; i++)
            {
                long d = target[i] == 0 && !allowZero
                    ? (i < x.Dim ? x.ShapeRef[i] : throw OpContext.Fail($"shape [{string.Join(", ", target)}] copies dimension {i} of {ShapeOps.Format(x.ShapeRef)}"))
                    : target[i];
                shape[i] = d is >= -1 and <= int.MaxValue ? (int)d : throw OpContext.Fail($"shape [{string.Join(", ", target)}] holds {d}");
            }
            return [Reshaped(x, ShapeOps.Infer(shape, x.Numel, x.ShapeRef))];
        };
    }

    public static Kernel Transpose(OpContext c)
    {
        var perm = c.Ints("perm");
        return inputs =>
        {
            var x = OpContext.Required(inputs, 0, "data");
            var p = perm?.Select(a => OpContext.Axis(a, x.Dim)).ToArray() ?? Enumerable.Range(0, x.Dim).Reverse().ToArray();
            if (p.Length != x.Dim || p.Distinct().Count() != p.Length)
                throw OpContext.Fail($"perm [{string.Join(", ", p)}] is not a permutation of {x.Dim} axes");
            return [x.Dtype == ScalarType.Float32 ? Functional.Permute(x, p) : HostOps.Permute(x, p)];
        };
    }

    public static Kernel Concat(OpContext c)
    {
        long axis = c.Int("axis", long.MinValue);
        if (axis == long.MinValue) throw OpContext.Fail("the axis attribute is required");
        return inputs =>
        {
            var parts = inputs.OfType<Tensor>().ToArray();
            if (parts.Length == 0) throw OpContext.Fail("no inputs");
            int a = OpContext.Axis(axis, parts[0].Dim);
            return [parts.All(p => p.Dtype == ScalarType.Float32) ? Functional.Cat(parts, a) : HostOps.Concat(parts, a)];
        };
    }

    /// <summary>Opset 10+: starts, ends, axes and steps as inputs (before 10: attributes, steps 1). Bounds clamp as in
    /// the specification, so INT64_MAX and INT64_MIN ends mean "to the end" in either direction.</summary>
    public static Kernel Slice(OpContext c) => inputs =>
    {
        var x = OpContext.Required(inputs, 0, "data");
        var starts = c.AttributeOrInput("starts", inputs, 1, 10) ?? throw OpContext.Fail("starts are missing");
        var ends = c.AttributeOrInput("ends", inputs, 2, 10) ?? throw OpContext.Fail("ends are missing");
        var axes = c.AttributeOrInput("axes", inputs, 3, 10) ?? Enumerable.Range(0, starts.Length).Select(a => (long)a).ToArray();
        var steps = (c.Opset >= 10 ? OpContext.OptionalInt64(inputs, 4, "steps") : null) ?? Enumerable.Repeat(1L, starts.Length).ToArray();
        if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length)
            throw OpContext.Fail($"starts, ends, axes and steps hold {starts.Length}, {ends.Length}, {axes.Length} and {steps.Length} values");
        int rank = x.Dim;
        var from = new int[rank];
        var step = Enumerable.Repeat(1, rank).ToArray();
        var count = x.Shape;
        for (int i = 0; i < starts.Length; i++)
        {
            int a = OpContext.Axis(axes[i], rank);
            long dim = x.ShapeRef[a], s = steps[i];
            if (s == 0 || s < int.MinValue || s > int.MaxValue) throw OpContext.Fail($"step {s} on axis {a} is invalid");
            long begin = starts[i] < 0 ? starts[i] + dim : starts[i], end = ends[i] < 0 ? ends[i] + dim : ends[i];
            if (ends[i] < -dim) end = -1;
            (begin, end) = s > 0 ? (Math.Clamp(begin, 0, dim), Math.Clamp(end, 0, dim)) : (Math.Clamp(begin, 0, dim - 1), Math.Clamp(end, -1, dim - 1));
            long n = s > 0 ? (end - begin + s - 1) / s : (begin - end - s - 1) / -s;
            (from[a], step[a], count[a]) = ((int)begin, (int)s, (int)Math.Max(n, 0));
        }
        if (x.Dtype != ScalarType.Float32 || step.Any(s => s < 0)) return [HostOps.Slice(x, from, step, count)];
        var y = x;
        for (int a = 0; a < rank; a++)
            if (count[a] != x.ShapeRef[a])
                y = Functional.Slice(y, a, from[a], from[a] + (count[a] == 0 ? 0 : (count[a] - 1) * step[a] + 1), step[a]);
        return [y];
    };

    /// <summary>Constant mode only; pads [x1_begin, x2_begin, ..., x1_end, x2_end, ...] from the input (opset 11+) or
    /// the attribute.</summary>
    public static Kernel Pad(OpContext c)
    {
        string mode = c.String("mode", "constant");
        if (mode != "constant") throw OpContext.Fail($"mode '{mode}' is not supported (only constant)");
        float attributeValue = c.Float("value", 0);
        return inputs =>
        {
            var x = OpContext.Float32(inputs, 0, "data");
            var pads = c.AttributeOrInput("pads", inputs, 1, 11) ?? throw OpContext.Fail("pads are missing");
            if (c.Opset >= 18 && inputs.Length > 3 && inputs[3] is not null) throw OpContext.Fail("the axes input is not supported");
            if (pads.Length != 2 * x.Dim || pads.Any(p => p < int.MinValue || p > int.MaxValue))
                throw OpContext.Fail($"pads [{string.Join(", ", pads)}] must hold two values per axis of {ShapeOps.Format(x.ShapeRef)}");
            double value = c.Opset >= 11 ? (inputs.Length > 2 && inputs[2] is { } v ? v.Item() : 0) : attributeValue;
            // Functional takes (before, after) pairs from the last dimension backwards.
            var pairs = new int[2 * x.Dim];
            for (int d = 0; d < x.Dim; d++)
                (pairs[2 * d], pairs[2 * d + 1]) = ((int)pads[x.Dim - 1 - d], (int)pads[2 * x.Dim - 1 - d]);
            return [pads.All(p => p == 0) ? x : Functional.Pad(x, pairs, value)];
        };
    }

    /// <summary>Axes from the input (opset 13+) or the attribute, relative to the output's rank.</summary>
    public static Kernel Unsqueeze(OpContext c) => inputs =>
    {
        var x = OpContext.Required(inputs, 0, "data");
        var axes = c.AttributeOrInput("axes", inputs, 1, 13) ?? throw OpContext.Fail("axes are missing");
        int rank = x.Dim + axes.Length;
        var inserted = axes.Select(a => OpContext.Axis(a, rank)).ToHashSet();
        if (inserted.Count != axes.Length) throw OpContext.Fail($"axes [{string.Join(", ", axes)}] repeat an axis");
        var shape = new int[rank];
        for (int d = 0, source = 0; d < rank; d++) shape[d] = inserted.Contains(d) ? 1 : x.ShapeRef[source++];
        return [Reshaped(x, shape)];
    };

    /// <summary>Removes the given size-1 axes, or every size-1 axis when none are given.</summary>
    public static Kernel Squeeze(OpContext c) => inputs =>
    {
        var x = OpContext.Required(inputs, 0, "data");
        var axes = c.AttributeOrInput("axes", inputs, 1, 13);
        var removed = axes?.Select(a => OpContext.Axis(a, x.Dim)).ToHashSet()
            ?? Enumerable.Range(0, x.Dim).Where(d => x.ShapeRef[d] == 1).ToHashSet();
        foreach (int d in removed)
            if (x.ShapeRef[d] != 1) throw OpContext.Fail($"axis {d} of {ShapeOps.Format(x.ShapeRef)} is not of size 1");
        return [Reshaped(x, x.ShapeRef.Where((_, d) => !removed.Contains(d)).ToArray())];
    };

    public static Kernel Expand(OpContext c) => inputs =>
        [HostOps.Expand(OpContext.Required(inputs, 0, "input"), OpContext.Shape(OpContext.Int64(inputs, 1, "shape")))];

    public static Kernel Gather(OpContext c)
    {
        long axis = c.Int("axis", 0);
        return inputs =>
        {
            var data = OpContext.Required(inputs, 0, "data");
            var indices = OpContext.Required(inputs, 1, "indices");
            if (indices.Dtype != ScalarType.Int64) throw OpContext.Fail($"indices must be integers, not {indices.Dtype}");
            return [HostOps.Gather(data, OpContext.Axis(axis, data.Dim), indices.I64, indices.ShapeRef)];
        };
    }
}
