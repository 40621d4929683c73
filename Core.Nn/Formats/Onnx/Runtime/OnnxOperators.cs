using Hybrid.Core.Gpu;
using Hybrid.Core.Nn.Formats.Onnx.Reader;

namespace Hybrid.Core.Nn.Formats.Onnx.Runtime;

/// <summary>The standard-domain operators a session can run. Each entry compiles a node once: attributes are read and
/// checked at build time, so the kernel only computes.</summary>
public static class OnnxOperators
{
    static readonly Dictionary<string, Func<OpContext, Kernel>> compilers = new()
    {
        ["Conv"] = NeuralOps.Conv,
        ["Gemm"] = NeuralOps.Gemm,
        ["MatMul"] = NeuralOps.MatMul,
        ["BatchNormalization"] = NeuralOps.BatchNormalization,
        ["LayerNormalization"] = NeuralOps.LayerNormalization,
        ["MaxPool"] = PoolOps.MaxPool,
        ["AveragePool"] = PoolOps.AveragePool,
        ["GlobalAveragePool"] = PoolOps.GlobalAveragePool,
        ["ReduceMean"] = PoolOps.ReduceMean,
        ["Softmax"] = NeuralOps.Softmax(Functional.Softmax),
        ["LogSoftmax"] = NeuralOps.Softmax(Functional.LogSoftmax),
        ["Relu"] = ElementwiseOps.Unary(Functional.Relu),
        ["Sigmoid"] = ElementwiseOps.Unary(Functional.Sigmoid),
        ["Tanh"] = ElementwiseOps.Unary(Functional.Tanh),
        ["HardSwish"] = ElementwiseOps.Unary(Functional.Hardswish),
        ["HardSigmoid"] = ElementwiseOps.HardSigmoid,
        ["Clip"] = ElementwiseOps.Clip,
        ["Sqrt"] = ElementwiseOps.Sqrt,
        ["Pow"] = ElementwiseOps.Pow,
        ["Erf"] = ElementwiseOps.Erf,
        ["Add"] = ElementwiseOps.Binary(Functional.Add, (a, b) => a + b),
        ["Sub"] = ElementwiseOps.Binary(Functional.Sub, (a, b) => a - b),
        ["Mul"] = ElementwiseOps.Binary(Functional.Mul, (a, b) => a * b),
        ["Div"] = ElementwiseOps.Binary(Functional.Div, ElementwiseOps.IntegerDivide),
        ["Greater"] = ElementwiseOps.Compare((a, b) => a > b),
        ["Less"] = ElementwiseOps.Compare((a, b) => a < b),
        ["Equal"] = ElementwiseOps.Compare((a, b) => a == b),
        ["Where"] = ElementwiseOps.Where,
        ["Identity"] = ElementwiseOps.Identity,
        ["Dropout"] = ElementwiseOps.Identity,
        ["Flatten"] = LayoutOps.Flatten,
        ["Reshape"] = LayoutOps.Reshape,
        ["Transpose"] = LayoutOps.Transpose,
        ["Concat"] = LayoutOps.Concat,
        ["Slice"] = LayoutOps.Slice,
        ["Pad"] = LayoutOps.Pad,
        ["Unsqueeze"] = LayoutOps.Unsqueeze,
        ["Squeeze"] = LayoutOps.Squeeze,
        ["Expand"] = LayoutOps.Expand,
        ["Gather"] = LayoutOps.Gather,
        ["Shape"] = ConstantOps.Shape,
        ["Constant"] = ConstantOps.Constant,
        ["ConstantOfShape"] = ConstantOps.ConstantOfShape,
        ["Cast"] = ConstantOps.Cast,
    };

    /// <summary>The operator types a session runs, sorted.</summary>
    public static IReadOnlyList<string> Supported { get; } = compilers.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>Compiles <paramref name="node"/>; an unknown operator or domain throws naming it.</summary>
    internal static Kernel Compile(OnnxNode node, long opset, Device device)
    {
        if (node.Domain.Length > 0)
            throw OpContext.Fail($"operator domain '{node.Domain}' is not supported (only the standard ai.onnx operators are)");
        if (!compilers.TryGetValue(node.OpType, out var compile))
            throw OpContext.Fail($"operator '{node.OpType}' is not supported; supported operators: {string.Join(", ", Supported)}");
        return compile(new OpContext(node, opset, device));
    }
}
