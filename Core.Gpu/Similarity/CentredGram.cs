using Hybrid.Core.Gpu.Maths;

namespace Hybrid.Core.Gpu;

/// <summary>A layer's centred Gram matrix HKH (H = I - 11ᵀ/n), the object CKA compares: linear CKA of two layers is
/// &lt;HKH, HLH&gt;_F / (||HKH||_F ||HLH||_F). Made by <see cref="Gram.Centre"/>.</summary>
public sealed class CentredGram
{
    readonly double[] values;

    internal CentredGram(double[] centred, int n, double norm, double rawNorm)
    {
        values = centred;
        N = n;
        FrobeniusNorm = norm;
        RawNorm = rawNorm;
    }

    /// <summary>HKH of <paramref name="k"/> (n x n, validated by the caller) on the given kernels.</summary>
    internal static CentredGram Of(IGramKernels kernels, double[] k, int n)
    {
        var (centred, norm) = kernels.Centre(k, n);
        return new CentredGram(centred, n, norm, CkaMaths.FrobeniusNorm(k));
    }

    /// <summary>The number of probe inputs n.</summary>
    public int N { get; }

    /// <summary>HKH, row-major n x n (read-only: the norm and encodings are derived from it).</summary>
    public ReadOnlyMemory<double> Matrix => values;

    /// <summary>||HKH||_F.</summary>
    public double FrobeniusNorm { get; }

    /// <summary>||K||_F of the uncentred matrix, the scale against which HKH counts as zero.</summary>
    internal double RawNorm { get; }

    internal ReadOnlySpan<double> Values => values;

    /// <summary>False when HKH is zero up to rounding: every probe input gave the same point, so CKA is undefined.</summary>
    internal bool HasVariance => CkaMaths.HasVariance(RawNorm, FrobeniusNorm);

    internal void RequireVariance(string name, string operation) =>
        CkaMaths.NonZeroVariance(RawNorm, FrobeniusNorm, name, operation);

    /// <summary>The exact n(n+1)/2-dimensional encoding the similarity search indexes: the upper triangle of HKH
    /// (i &lt;= j, row-major) with off-diagonal entries scaled by √2, divided by its norm (= ||HKH||_F). The dot
    /// product of two layers' encodings is their linear CKA. Throws when the layer has zero variance.</summary>
    public double[] PackedEncoding()
    {
        RequireVariance("the centred Gram matrix", "CentredGram.PackedEncoding");
        double[] packed = CkaMaths.Pack(values, N);
        double norm = Math.Sqrt(HostVectors.Dot(packed, packed));
        for (int e = 0; e < packed.Length; e++) packed[e] /= norm;
        return packed;
    }

    /// <summary><see cref="PackedEncoding"/> rounded to float32, for the search index (dot products then agree with
    /// CKA to about 1e-7).</summary>
    public float[] PackedEncodingSingle() => Array.ConvertAll(PackedEncoding(), v => (float)v);

    public override string ToString() => $"CentredGram(n = {N}, ||HKH||_F = {FrobeniusNorm:G6})";
}
