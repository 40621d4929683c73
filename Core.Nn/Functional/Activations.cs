using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>max(x, 0); the gradient is read from the output, so the input is not kept alive for backward.</summary>
    public static Tensor Relu(Tensor input) => Lanes<ReluOp, ReluGradOp>("Relu", input, gradFromOutput: true);

    /// <summary>max(x, 0) written over <paramref name="input"/>, returned: for inference code that owns the tensor (a
    /// folded batch norm's pass-through), with nothing recorded or traced.</summary>
    internal static Tensor ReluInPlace(Tensor input) => Elementwise.MapInPlace<ReluOp>(input);

    /// <summary>GELU, exact (erf) by default or with PyTorch's tanh approximation.</summary>
    public static Tensor Gelu(Tensor input, bool tanhApproximation = false) => tanhApproximation
        ? Spans<GeluTanhSpans, GeluTanhGradSpans>("Gelu", input, "tanh")
        : Spans<GeluErfSpans, GeluErfGradSpans>("Gelu", input, "none");

    /// <summary>x * sigmoid(x).</summary>
    public static Tensor Silu(Tensor input) => Spans<SiluSpans, SiluGradSpans>("Silu", input);

    public static Tensor Sigmoid(Tensor input) => SpansGradFromOutput<SigmoidSpans, SigmoidGradOp>("Sigmoid", input);

    public static Tensor Tanh(Tensor input) => SpansGradFromOutput<TanhSpans, TanhGradOp>("Tanh", input);

    /// <summary>x * relu6(x + 3) / 6.</summary>
    public static Tensor Hardswish(Tensor input) => Lanes<HardswishOp, HardswishGradOp>("Hardswish", input);

    /// <summary>relu6(x + 3) / 6.</summary>
    public static Tensor Hardsigmoid(Tensor input) => Lanes<HardsigmoidOp, HardsigmoidGradOp>("Hardsigmoid", input);

    /// <summary>min(max(x, 0), 6).</summary>
    public static Tensor Relu6(Tensor input) => Lanes<Relu6Op, Relu6GradOp>("Relu6", input);

    // An activation of lane operators; its derivative reads the input, or the output where that is what it needs.
    static Tensor Lanes<TOp, TGrad>(string name, Tensor input, bool gradFromOutput = false) where TOp : IUnaryOp where TGrad : IBinaryOp =>
        Activation(name, input, Elementwise.Map<TOp>, Elementwise.Map<TGrad>, gradFromOutput);

    // An activation of span operators (library transcendental functions), its derivative from the input.
    static Tensor Spans<TOp, TGrad>(string name, Tensor input, string? approximate = null) where TOp : IUnarySpans where TGrad : IBinarySpans =>
        Activation(name, input, Elementwise.Spans<TOp>, Elementwise.Spans<TGrad>, gradFromOutput: false, approximate);

    // A span-operator activation whose derivative is a lane operator of the output (sigmoid, tanh).
    static Tensor SpansGradFromOutput<TOp, TGrad>(string name, Tensor input) where TOp : IUnarySpans where TGrad : IBinaryOp =>
        Activation(name, input, Elementwise.Spans<TOp>, Elementwise.Map<TGrad>, gradFromOutput: true);

    /// <summary>The shared frame of every activation: validate, run the kernel, trace, and record a backward that gets
    /// the one tensor its derivative reads, the input or (<paramref name="gradFromOutput"/>) the output, with the output's
    /// gradient. Only that tensor is kept alive for the backward.</summary>
    static Tensor Activation(string name, Tensor input, Func<Tensor, Tensor> forward, Func<Tensor, Tensor, Tensor> backward,
        bool gradFromOutput, string? approximate = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        OpChecks.Floating(name, "input", input);
        var output = forward(input);
        if (approximate is null) Trace.Record(name, output, [input]);
        else Trace.Record(name, output, [input], ("approximate", approximate));
        var saved = gradFromOutput ? output : input;
        return Autograd.Record(output, name, g => [backward(saved, g)], input);
    }
}
