namespace Hybrid.Core.Gpu.Reference;

/// <summary>The Gram kernels of the Reference backend: the plain loops of <see cref="ReferenceCka"/>, so that the
/// public CKA API on the Reference device computes exactly the specification.</summary>
internal sealed class ReferenceGramKernels : IGramKernels
{
    public static readonly ReferenceGramKernels Instance = new();

    public IGramSum Sum(int n) => new GramSum(n);

    public (double[] Centred, double Norm) Centre(double[] k, int n)
    {
        double[] centred = ReferenceCka.Centre(k, n);
        return (centred, Maths.CkaMaths.FrobeniusNorm(centred));
    }

    public double[] SquaredDistances(ReadOnlyMemory<float> x, int n, int p, double[] gram) =>
        ReferenceCka.SquaredDistances(x.Span, n, p);

    sealed class GramSum(int n) : IGramSum
    {
        readonly double[] k = new double[n * n];

        public void Add(ReadOnlyMemory<float> x, int features) => ReferenceCka.AddLinearGram(x.Span, n, features, k);

        public double[] Gram() => (double[])k.Clone();

        public void Dispose() { }
    }
}
