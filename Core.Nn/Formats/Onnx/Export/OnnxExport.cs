namespace Hybrid.Core.Nn.Formats.Onnx.Export;

/// <summary>Writes a Core.Nn model as an ONNX file by tracing one forward pass, as <c>torch.onnx.export</c> does.</summary>
public static class OnnxExport
{
    /// <summary>The graph input's name.</summary>
    public const string InputName = "input";

    /// <summary>The graph output's name.</summary>
    public const string OutputName = "output";

    /// <summary>
    /// Traces <paramref name="model"/> on <paramref name="exampleInput"/> (evaluation mode, no autograd) and writes the ops
    /// it ran to <paramref name="path"/> as an ONNX model of operator set <paramref name="opset"/> (13 to 17). Parameters
    /// and buffers become initializers named by their state keys (<c>layer1.0.conv1.weight</c>), nodes are named by
    /// module path (<c>/layer1/layer1.0/conv1/Conv</c>), and the batch dimension of input and output is the symbol
    /// <c>N</c>. BatchNorm is kept as BatchNormalization (not folded into the convolution); LayerNorm is
    /// LayerNormalization from opset 17 and its decomposition (ReduceMean, Sub, Mul, Sqrt, Div) before. The file is
    /// written to a temporary name and renamed, so a failed export leaves no partial file.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model ran an op that has no ONNX translation here.</exception>
    public static void Save(Module model, Tensor exampleInput, string path, int opset = 13)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(exampleInput);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (opset is < 13 or > 17)
            throw new ArgumentOutOfRangeException(nameof(opset), opset, "ONNX export writes operator sets 13 to 17");
        if (exampleInput.Dtype != ScalarType.Float32 || exampleInput.Dim == 0)
            throw new ArgumentException($"the example input must be a float32 tensor with a batch dimension, not {exampleInput}", nameof(exampleInput));

        Tensor output;
        IReadOnlyList<TracedOp> ops;
        using (model.Eval())
        using (Autograd.NoGrad())
        using (var trace = Trace.Start(model))
        {
            output = model.Call(exampleInput);
            ops = trace.Ops.ToArray();
        }

        var writer = new OnnxGraphWriter();
        var exporter = new TraceExporter(writer, opset, model, exampleInput, output);
        foreach (var op in ops) exporter.Add(op);
        string result = exporter.NameOf(output);
        if (!exporter.Produced(output))
            throw new InvalidOperationException("the model's output was not computed by any traced op from the input, so the graph would ignore its input");
        if (result != OutputName) writer.Single("", "Identity", [result], OutputName);

        int batch = exampleInput.Size(0);
        writer.Value(true, InputName, exampleInput.Shape, batched: true);
        writer.Value(false, OutputName, output.Shape, batched: output.Dim > 0 && output.Size(0) == batch);
        writer.Save(path, opset);
    }
}
