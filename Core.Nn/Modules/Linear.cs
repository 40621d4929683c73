namespace Hybrid.Core.Nn.Modules;

/// <summary>PyTorch's <c>nn.Linear</c>: y = x W^T + b over the last dimension; state <c>weight</c> (out, in) and
/// <c>bias</c> (out) or none.</summary>
public class Linear : Module
{
    /// <summary>A layer initialised as PyTorch's <c>reset_parameters</c> does, drawing from <paramref name="generator"/>
    /// (or <see cref="Init.Default"/>).</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, Generator? generator = null)
    {
        if (inFeatures < 0 || outFeatures < 0)
            throw new ArgumentException($"Linear: in_features {inFeatures} and out_features {outFeatures} must be non-negative", nameof(inFeatures));
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        RegisterParameter("weight", Tensor.Zeros(outFeatures, inFeatures));
        RegisterParameter("bias", bias ? Tensor.Zeros(outFeatures) : null);
        ResetParameters(generator ?? Init.Default);
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }

    /// <summary>The current weight tensor (looked up each time: <see cref="Module.To(Gpu.Device)"/> and
    /// <see cref="Module.To(ScalarType)"/> replace parameter objects).</summary>
    public Tensor Weight => Parameter("weight")!;

    /// <summary>The bias, or null for a layer built with <c>bias: false</c>.</summary>
    public Tensor? Bias => Parameter("bias");

    /// <summary>Kaiming-uniform weight with a = sqrt(5) and U(-1/sqrt(in), 1/sqrt(in)) bias, as PyTorch. An empty weight
    /// (in or out features 0) is left as it is.</summary>
    public void ResetParameters(Generator generator)
    {
        if (Weight.Numel > 0) Init.KaimingUniform(Weight, generator, a: Math.Sqrt(5));
        if (Bias is { } b) Init.FanInUniform(b, Weight, generator);
    }

    public override Tensor Forward(Tensor input) => Functional.Linear(input, Weight, Bias);

    /// <summary>PyTorch's repr: <c>Linear(in_features=64, out_features=10, bias=True)</c>.</summary>
    public override string ToString() =>
        $"{TypeName}(in_features={InFeatures}, out_features={OutFeatures}, bias={(Bias is null ? "False" : "True")})";
}
