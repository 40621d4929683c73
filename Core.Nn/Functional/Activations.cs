namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>max(x, 0); the gradient is read from the output, so the input is not kept alive for backward.</summary>
    public static Tensor Relu(Tensor input) =>
        Activation("Relu", input, Elementwise.Map<ReluOp>, (x, y, g) => Elementwise.Map<ReluGradOp>(y, g));

    /// <summary>GELU, exact (erf) by default or with PyTorch's tanh approximation.</summary>
    public static Tensor Gelu(Tensor input, bool tanhApproximation = false) => tanhApproximation
        ? Activation("Gelu", input, Elementwise.Spans<GeluTanhSpans>, (x, y, g) => Elementwise.Spans<GeluTanhGradSpans>(x, g), "tanh")
        : Activation("Gelu", input, Elementwise.Spans<GeluErfSpans>, (x, y, g) => Elementwise.Spans<GeluErfGradSpans>(x, g), "none");

    /// <summary>x * sigmoid(x).</summary>
    public static Tensor Silu(Tensor input) =>
        Activation("Silu", input, Elementwise.Spans<SiluSpans>, (x, y, g) => Elementwise.Spans<SiluGradSpans>(x, g));

    public static Tensor Sigmoid(Tensor input) =>
        Activation("Sigmoid", input, Elementwise.Spans<SigmoidSpans>, (x, y, g) => Elementwise.Map<SigmoidGradOp>(y, g));

    public static Tensor Tanh(Tensor input) =>
        Activation("Tanh", input, Elementwise.Spans<TanhSpans>, (x, y, g) => Elementwise.Map<TanhGradOp>(y, g));

    /// <summary>x * relu6(x + 3) / 6.</summary>
    public static Tensor Hardswish(Tensor input) =>
        Activation("Hardswish", input, Elementwise.Map<HardswishOp>, (x, y, g) => Elementwise.Map<HardswishGradOp>(x, g));

    /// <summary>relu6(x + 3) / 6.</summary>
    public static Tensor Hardsigmoid(Tensor input) =>
        Activation("Hardsigmoid", input, Elementwise.Map<HardsigmoidOp>, (x, y, g) => Elementwise.Map<HardsigmoidGradOp>(x, g));

    /// <summary>min(max(x, 0), 6).</summary>
    public static Tensor Relu6(Tensor input) =>
        Activation("Relu6", input, Elementwise.Map<Relu6Op>, (x, y, g) => Elementwise.Map<Relu6GradOp>(x, g));

    /// <summary>The shared frame of every activation: validate, run the kernel, trace, and record a backward that gets
    /// the input, the output and the output's gradient (each kernel reads what its derivative needs).</summary>
    static Tensor Activation(string name, Tensor input, Func<Tensor, Tensor> forward, Func<Tensor, Tensor, Tensor, Tensor> backward,
        string? approximate = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        OpChecks.Floating(name, "input", input);
        var output = forward(input);
        if (approximate is null) Trace.Record(name, output, [input]);
        else Trace.Record(name, output, [input], ("approximate", approximate));
        return Autograd.Record(output, name, g => [backward(input, output, g)], input);
    }
}
