namespace Hybrid.Core.Nn.Modules;

/// <summary>PyTorch's <c>nn.LayerNorm</c> over the trailing <see cref="NormalizedShape"/> dimensions; state
/// <c>weight</c> (ones) and <c>bias</c> (zeros) of that shape when elementwise-affine.</summary>
public sealed class LayerNorm : Module
{
    readonly int[] normalizedShape;

    public LayerNorm(int[] normalizedShape, double eps = 1e-5, bool elementwiseAffine = true, bool bias = true)
    {
        ArgumentNullException.ThrowIfNull(normalizedShape);
        if (normalizedShape.Length == 0 || normalizedShape.Any(s => s <= 0))
            throw new ArgumentException($"LayerNorm: normalized_shape must be non-empty and positive, not {ShapeOps.Format(normalizedShape)}", nameof(normalizedShape));
        if (!(eps > 0)) throw new ArgumentException($"eps must be positive, not {eps}", nameof(eps));
        this.normalizedShape = (int[])normalizedShape.Clone();
        Eps = eps;
        ElementwiseAffine = elementwiseAffine;
        RegisterParameter("weight", elementwiseAffine ? Tensor.Ones(ScalarType.Float32, null, normalizedShape) : null);
        RegisterParameter("bias", elementwiseAffine && bias ? Tensor.Zeros(normalizedShape) : null);
    }

    /// <summary>A layer normalising the last dimension of size <paramref name="features"/>.</summary>
    public LayerNorm(int features, double eps = 1e-5) : this([features], eps) { }

    /// <summary>The normalised trailing dimensions (a copy).</summary>
    public int[] NormalizedShape => (int[])normalizedShape.Clone();
    public double Eps { get; }
    public bool ElementwiseAffine { get; }
    public Tensor? Weight => Parameter("weight");
    public Tensor? Bias => Parameter("bias");

    public override Tensor Forward(Tensor input) => Functional.LayerNorm(input, normalizedShape, Weight, Bias, Eps);

    public override string ToString() =>
        $"LayerNorm(({string.Join(", ", normalizedShape)}{(normalizedShape.Length == 1 ? "," : "")}), eps={Shapes.Float(Eps)}, " +
        $"elementwise_affine={(ElementwiseAffine ? "True" : "False")})";
}
