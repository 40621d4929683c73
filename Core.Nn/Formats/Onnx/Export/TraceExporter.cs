using W = Hybrid.Core.Nn.Formats.Onnx.Export.OnnxGraphWriter;
using Hybrid.Core.Nn.Formats.Onnx.Reader;

namespace Hybrid.Core.Nn.Formats.Onnx.Export;

/// <summary>Turns traced Functional ops into ONNX nodes. Tensors the model owns become initializers named by their state
/// keys; any other tensor an op reads that no traced op produced becomes a constant initializer.</summary>
internal sealed class TraceExporter
{
    readonly W w;
    readonly int opset;
    readonly Tensor graphOutput;
    readonly Dictionary<Tensor, string> names = new(ReferenceEqualityComparer.Instance);
    readonly Dictionary<Tensor, string> owned = new(ReferenceEqualityComparer.Instance);

    public TraceExporter(W writer, int opset, Module model, Tensor input, Tensor output)
    {
        w = writer;
        this.opset = opset;
        graphOutput = output;
        names[input] = OnnxExport.InputName;
        foreach (var (key, t) in model.NamedParameters().Concat(model.NamedBuffers())) owned.TryAdd(t, key);
    }

    /// <summary>The ONNX value holding <paramref name="t"/>.</summary>
    public string NameOf(Tensor t)
    {
        if (names.TryGetValue(t, out var name)) return name;
        return names[t] = owned.TryGetValue(t, out var key) ? w.Initializer(key, t) : w.Constant(t);
    }

    /// <summary>True when a traced op produced <paramref name="t"/> (or it is the input).</summary>
    public bool Produced(Tensor t) => names.ContainsKey(t) && !owned.ContainsKey(t);

    /// <summary>Emits the node computing <paramref name="op"/>'s output (named "output" for the graph's output).</summary>
    string Emit(TracedOp op, string opType, IEnumerable<string> inputs, params Proto.AttributeProto[] attributes) =>
        names[op.Output] = w.Single(op.ModulePath, opType, inputs,
            ReferenceEquals(op.Output, graphOutput) ? OnnxExport.OutputName : null, attributes);

    /// <summary>Emits an intermediate node of a multi-node translation.</summary>
    string Step(TracedOp op, string opType, IEnumerable<string> inputs, params Proto.AttributeProto[] attributes) =>
        w.Single(op.ModulePath, opType, inputs, null, attributes);

    public void Add(TracedOp op)
    {
        var x = op.Inputs;
        // Ops that hand back their input (dropout in evaluation, no-op reshapes) add no node.
        if (x.Any(i => ReferenceEquals(i, op.Output))) return;
        string In(int i) => NameOf(x[i]);
        switch (op.Op)
        {
            case "Conv2d": Convolution(op, In(0), In(1), x.Length > 2 ? In(2) : null); break;
            case "MaskedConv2d": Convolution(op, In(0), Masked(op, 1, 2), x.Length > 3 ? Masked(op, 3, 4) : null); break;
            case "Linear": Linear(op, In(0), In(1), x.Length > 2 ? In(2) : null); break;
            case "MaskedLinear": Linear(op, In(0), Masked(op, 1, 2), x.Length > 3 ? Masked(op, 3, 4) : null); break;
            case "Matmul" or "Bmm": Emit(op, "MatMul", [In(0), In(1)]); break;
            case "BatchNorm": BatchNorm(op); break;
            case "LayerNorm": LayerNorm(op); break;
            case "Relu" or "Sigmoid" or "Tanh": Emit(op, op.Op, [In(0)]); break;
            case "Hardsigmoid": Emit(op, "HardSigmoid", [In(0)], W.Float("alpha", 1f / 6), W.Float("beta", 0.5f)); break;
            case "Hardswish":
                Emit(op, "Mul", [In(0), Step(op, "HardSigmoid", [In(0)], W.Float("alpha", 1f / 6), W.Float("beta", 0.5f))]);
                break;
            case "Silu": Emit(op, "Mul", [In(0), Step(op, "Sigmoid", [In(0)])]); break;
            case "Relu6": Emit(op, "Clip", [In(0), w.Scalar(0), w.Scalar(6)]); break;
            case "Gelu":
                if (op.Attributes.GetValueOrDefault("approximate") is "tanh")
                    throw new InvalidOperationException($"cannot export Gelu with the tanh approximation in module '{op.ModulePath}'");
                var erf = Step(op, "Erf", [Step(op, "Div", [In(0), w.Scalar(MathF.Sqrt(2))])]);
                Emit(op, "Mul", [Step(op, "Mul", [In(0), Step(op, "Add", [erf, w.Scalar(1)])]), w.Scalar(0.5f)]);
                break;
            case "Add" or "Sub" or "Mul" or "Div": Emit(op, op.Op, [In(0), In(1)]); break;
            case "Affine":
                double scale = TraceAttributes.Double(op, 1, "scale", "alpha"), shift = TraceAttributes.Double(op, 0, "shift", "beta");
                var scaled = scale == 1 ? In(0) : shift == 0 ? Emit(op, "Mul", [In(0), w.Scalar((float)scale)]) : Step(op, "Mul", [In(0), w.Scalar((float)scale)]);
                if (shift != 0 || scale == 1) Emit(op, "Add", [scaled, w.Scalar((float)shift)]);
                break;
            case "Mean" or "Sum": Reduce(op); break;
            case "MaxPool2d" or "AvgPool2d": Pool(op); break;
            case "AdaptiveAvgPool2d": AdaptivePool(op); break;
            case "Softmax" or "LogSoftmax": Emit(op, op.Op, [In(0)], W.Int("axis", Axis(op, TraceAttributes.Int(op, null, "dim", "axis")))); break;
            case "Reshape" or "Flatten" or "Unsqueeze" or "Squeeze" or "View": Reshape(op); break;
            case "Permute": Emit(op, "Transpose", [In(0)], W.Ints("perm", TraceAttributes.Ints(op, "dims", "perm").Select(d => (long)Axis(op, d)).ToArray())); break;
            case "Transpose": Transpose(op); break;
            case "Slice": Slice(op); break;
            case "Cat": Emit(op, "Concat", x.Select(NameOf), W.Int("axis", Axis(op, TraceAttributes.Int(op, 0, "dim", "axis")))); break;
            case "Pad": Pad(op); break;
            case "Dropout": names[op.Output] = In(0); break;
            default:
                throw new InvalidOperationException($"cannot export op {op.Op} (module '{op.ModulePath}') to ONNX");
        }
    }

    /// <summary>A dimension in [0, rank of the op's first input) from a possibly negative index.</summary>
    static long Axis(TracedOp op, long dim) => dim < 0 ? dim + op.Inputs[0].Dim : dim;

    /// <summary>tensor * 1[mask > 0] for the masked layers' effective weights.</summary>
    string Masked(TracedOp op, int tensor, int mask)
    {
        var kept = Step(op, "Greater", [NameOf(op.Inputs[mask]), w.Scalar(0)]);
        return Step(op, "Mul", [NameOf(op.Inputs[tensor]), Step(op, "Cast", [kept], W.Int("to", (long)OnnxDataType.Float))]);
    }

    void Convolution(TracedOp op, string input, string weight, string? bias)
    {
        var k = op.Inputs[1].ShapeRef;
        var pad = TraceAttributes.Pair(op, [0, 0], "padding", "pads");
        Emit(op, "Conv", bias is null ? [input, weight] : [input, weight, bias],
            W.Ints("dilations", TraceAttributes.Pair(op, [1, 1], "dilation", "dilations").Select(v => (long)v).ToArray()),
            W.Int("group", TraceAttributes.Int(op, 1, "groups", "group")),
            W.Ints("kernel_shape", k[2], k[3]),
            W.Ints("pads", pad[0], pad[1], pad[0], pad[1]),
            W.Ints("strides", TraceAttributes.Pair(op, [1, 1], "stride", "strides").Select(v => (long)v).ToArray()));
    }

    void Linear(TracedOp op, string input, string weight, string? bias)
    {
        if (op.Inputs[0].Dim == 2)
        {
            Emit(op, "Gemm", bias is null ? [input, weight] : [input, weight, bias],
                W.Float("alpha", 1), W.Float("beta", 1), W.Int("transB", 1));
            return;
        }
        var product = Step(op, "MatMul", [input, Step(op, "Transpose", [weight], W.Ints("perm", 1, 0))]);
        if (bias is null) names[op.Output] = product;
        else Emit(op, "Add", [product, bias]);
        if (bias is null && ReferenceEquals(op.Output, graphOutput)) Emit(op, "Identity", [product]);
    }

    void BatchNorm(TracedOp op)
    {
        if (TraceAttributes.Bool(op, false, "training"))
            throw new InvalidOperationException($"cannot export BatchNorm in training mode (module '{op.ModulePath}')");
        // Inputs are identified by state key, so the op may record its optional tensors in any order or leave them out.
        Tensor? Role(string suffix) => op.Inputs.Skip(1).FirstOrDefault(t => owned.TryGetValue(t, out var k) && k.EndsWith(suffix, StringComparison.Ordinal));
        var (mean, var, weight, bias) = op.Inputs.Length == 5 && op.Inputs.Skip(1).All(t => !owned.ContainsKey(t))
            ? (op.Inputs[1], op.Inputs[2], op.Inputs[3], op.Inputs[4])
            : (Role("running_mean"), Role("running_var"), Role("weight"), Role("bias"));
        if (mean is null || var is null)
            throw new InvalidOperationException($"cannot export BatchNorm without running statistics (module '{op.ModulePath}')");
        int channels = mean.Numel;
        Emit(op, "BatchNormalization",
            [NameOf(op.Inputs[0]),
             weight is null ? w.Constant(Tensor.Ones(ScalarType.Float32, null, channels)) : NameOf(weight),
             bias is null ? w.Constant(Tensor.Zeros(channels)) : NameOf(bias),
             NameOf(mean), NameOf(var)],
            W.Float("epsilon", (float)TraceAttributes.Double(op, 1e-5, "eps", "epsilon")),
            W.Float("momentum", 1 - (float)TraceAttributes.Double(op, 0.1, "momentum")));
    }

    /// <summary>LayerNormalization from opset 17, where ONNX has it; before, torch.onnx's decomposition over the normalised
    /// axes: d = x - mean(x), d / sqrt(mean(d * d) + eps), then times the weight and plus the bias.</summary>
    void LayerNorm(TracedOp op)
    {
        int rank = op.Inputs[0].Dim, first = rank - TraceAttributes.Ints(op, "normalized_shape").Length;
        float eps = (float)TraceAttributes.Double(op, 1e-5, "eps", "epsilon");
        // The trace lists weight and bias after the input, each only when present.
        bool hasWeight = TraceAttributes.Bool(op, false, "has_weight"), hasBias = TraceAttributes.Bool(op, false, "has_bias");
        string x = NameOf(op.Inputs[0]);
        string? weight = hasWeight ? NameOf(op.Inputs[1]) : null, bias = hasBias ? NameOf(op.Inputs[hasWeight ? 2 : 1]) : null;
        if (opset >= 17)
        {
            weight ??= w.Constant(Tensor.Ones(ScalarType.Float32, null, op.Inputs[0].ShapeRef[first..]));
            Emit(op, "LayerNormalization", bias is null ? [x, weight] : [x, weight, bias], W.Int("axis", first), W.Float("epsilon", eps));
            return;
        }
        var axes = W.Ints("axes", Enumerable.Range(first, rank - first).Select(a => (long)a).ToArray());
        var keep = W.Int("keepdims", 1);
        var centred = Step(op, "Sub", [x, Step(op, "ReduceMean", [x], axes, keep)]);
        var variance = Step(op, "ReduceMean", [Step(op, "Mul", [centred, centred])], axes, keep);
        var steps = new List<(string Op, string Operand)> { ("Div", Step(op, "Sqrt", [Step(op, "Add", [variance, w.Scalar(eps)])])) };
        if (weight is not null) steps.Add(("Mul", weight));
        if (bias is not null) steps.Add(("Add", bias));
        var y = centred;
        for (int i = 0; i < steps.Count; i++)
            y = i < steps.Count - 1 ? Step(op, steps[i].Op, [y, steps[i].Operand]) : Emit(op, steps[i].Op, [y, steps[i].Operand]);
    }

    void Reduce(TracedOp op)
    {
        bool keep = TraceAttributes.Bool(op, false, "keepDim", "keepdims");
        int[]? dims = op.Attributes.Keys.Any(k => k.StartsWith("dim", StringComparison.OrdinalIgnoreCase)) ? TraceAttributes.Ints(op, "dims", "dim") : null;
        var axes = (dims ?? Enumerable.Range(0, op.Inputs[0].Dim).ToArray()).Select(d => Axis(op, d)).ToArray();
        var keepAttribute = W.Int("keepdims", keep ? 1 : 0);
        // Opset 13 takes ReduceMean's axes as an attribute but ReduceSum's as an input.
        if (op.Op == "Mean") Emit(op, "ReduceMean", [NameOf(op.Inputs[0])], W.Ints("axes", axes), keepAttribute);
        else Emit(op, "ReduceSum", [NameOf(op.Inputs[0]), w.Int64s(axes)], keepAttribute);
    }

    void Pool(TracedOp op)
    {
        var kernel = TraceAttributes.Pair(op, null, "kernel", "kernelSize", "kernel_shape");
        var stride = TraceAttributes.Pair(op, kernel, "stride", "strides");
        var pad = TraceAttributes.Pair(op, [0, 0], "padding", "pads");
        var attributes = new List<Proto.AttributeProto>
        {
            W.Int("ceil_mode", TraceAttributes.Bool(op, false, "ceilMode") ? 1 : 0),
            W.Ints("kernel_shape", kernel[0], kernel[1]),
            W.Ints("pads", pad[0], pad[1], pad[0], pad[1]),
            W.Ints("strides", stride[0], stride[1]),
        };
        if (op.Op == "MaxPool2d")
        {
            var dilation = TraceAttributes.Pair(op, [1, 1], "dilation", "dilations");
            if (dilation[0] != 1 || dilation[1] != 1) attributes.Add(W.Ints("dilations", dilation[0], dilation[1]));
            Emit(op, "MaxPool", [NameOf(op.Inputs[0])], [.. attributes]);
        }
        else
        {
            attributes.Add(W.Int("count_include_pad", TraceAttributes.Bool(op, true, "countIncludePad") ? 1 : 0));
            Emit(op, "AveragePool", [NameOf(op.Inputs[0])], [.. attributes]);
        }
    }

    /// <summary>Output 1x1 is GlobalAveragePool; sizes that divide the input are a plain AveragePool.</summary>
    void AdaptivePool(TracedOp op)
    {
        int[] i = op.Inputs[0].ShapeRef, o = op.Output.ShapeRef;
        if (o[2] == 1 && o[3] == 1) { Emit(op, "GlobalAveragePool", [NameOf(op.Inputs[0])]); return; }
        if (i[2] % o[2] != 0 || i[3] % o[3] != 0)
            throw new InvalidOperationException($"cannot export AdaptiveAvgPool2d from {ShapeOps.Format(i)} to {ShapeOps.Format(o)}: sizes must divide");
        int kh = i[2] / o[2], kw = i[3] / o[3];
        Emit(op, "AveragePool", [NameOf(op.Inputs[0])], W.Ints("kernel_shape", kh, kw), W.Ints("strides", kh, kw));
    }

    /// <summary>Every view op becomes Reshape to the traced output shape, with the batch dimension copied (0) or inferred
    /// (-1) so the graph accepts any batch size; Flatten to (N, features) stays Flatten.</summary>
    void Reshape(TracedOp op)
    {
        int[] i = op.Inputs[0].ShapeRef, o = op.Output.ShapeRef;
        bool sameBatch = o.Length > 0 && i.Length > 0 && o[0] == i[0];
        if (o.Length == 2 && sameBatch && i.Length >= 2) { Emit(op, "Flatten", [NameOf(op.Inputs[0])], W.Int("axis", 1)); return; }
        var shape = o.Select(d => (long)d).ToArray();
        if (shape.Length > 0 && i.Length > 0) shape[0] = sameBatch ? 0 : -1;
        Emit(op, "Reshape", [NameOf(op.Inputs[0]), w.Int64s(shape)]);
    }

    void Transpose(TracedOp op)
    {
        int rank = op.Inputs[0].Dim;
        var perm = Enumerable.Range(0, rank).Select(d => (long)d).ToArray();
        long a = Axis(op, TraceAttributes.Int(op, null, "dim0")), b = Axis(op, TraceAttributes.Int(op, null, "dim1"));
        (perm[a], perm[b]) = (perm[b], perm[a]);
        Emit(op, "Transpose", [NameOf(op.Inputs[0])], W.Ints("perm", perm));
    }

    void Slice(TracedOp op)
    {
        long dim = Axis(op, TraceAttributes.Int(op, null, "dim", "axis"));
        long start = TraceAttributes.Int(op, 0, "start"), end = TraceAttributes.Int(op, long.MaxValue, "end");
        Emit(op, "Slice", [NameOf(op.Inputs[0]), w.Int64s(start), w.Int64s(end), w.Int64s(dim), w.Int64s(TraceAttributes.Int(op, 1, "step"))]);
    }

    /// <summary>F.pad's (before, after) pairs from the last dimension become ONNX's [begins..., ends...].</summary>
    void Pad(TracedOp op)
    {
        var pairs = TraceAttributes.Ints(op, "pad", "padding", "pads");
        int rank = op.Inputs[0].Dim;
        var pads = new long[2 * rank];
        for (int p = 0; p < pairs.Length / 2; p++)
            (pads[rank - 1 - p], pads[2 * rank - 1 - p]) = (pairs[2 * p], pairs[2 * p + 1]);
        Emit(op, "Pad", [NameOf(op.Inputs[0]), w.Int64s(pads), w.Scalar((float)TraceAttributes.Double(op, 0, "value"))],
            W.String("mode", "constant"));
    }
}
