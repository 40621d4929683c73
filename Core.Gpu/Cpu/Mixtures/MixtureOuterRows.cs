namespace Hybrid.Core.Gpu.Cpu;

/// <summary>A block's rows extended for full covariance as [xₐx_b (a ≤ b, row by row of the upper triangle), x, 1]
/// (d(d + 1)/2 + d + 1 values, padded to whole vectors): the log-density of component j is then one row of this against
/// a column of Q (-Pₐ_b, -½Pₐₐ, Pμ and the constant, with P = UUᵀ), and the moments Σ r xxᵀ, Σ r x, Σ r are one
/// product rᵀ with these rows, so that both halves of a pass run on <see cref="MixtureProducts"/>' register tiles
/// instead of a whitening per component and a Gram matrix of the weighted rows per component.</summary>
internal static unsafe class MixtureOuterRows
{
    const int W = 8;
    // How far ahead Fill asks for the data's rows, as MixtureRows does.
    const int PrefetchRows = 64;

    /// <summary>The columns of an extended row that the products read.</summary>
    public static int Width(int d) => Triangle(d) + d + 1;

    /// <summary>The padded length of an extended row.</summary>
    public static int Stride(int d) => (Width(d) + W - 1) & ~(W - 1);

    /// <summary>Where the products xₐx_b of row a of the upper triangle start (b from a on).</summary>
    public static int Offset(int a, int d) => a * d - a * (a - 1) / 2;

    /// <summary>The number of products xₐx_b with a ≤ b: where x starts in an extended row.</summary>
    public static int Triangle(int d) => d * (d + 1) / 2;

    /// <summary>The <paramref name="rows"/> rows of x (stride d), less <paramref name="centre"/>, extended into z (stride
    /// <see cref="Stride"/>); z must hold <see cref="MixtureProducts.Slack"/> doubles past its last row.</summary>
    public static void Fill(double* x, int rows, int d, double* z, double* centre)
    {
        int stride = Stride(d), triangle = Triangle(d);
        // The centred row with a vector of zeros after it, so that every product row reads whole vectors.
        double* row = stackalloc double[d + W];
        new Span<double>(row + d, W).Clear();
        for (int i = 0; i < rows; i++)
        {
            double* source = x + (long)i * d, target = z + (long)i * stride;
            if (Sse.IsSupported)
                for (int line = 0; line < d; line += W) Sse.Prefetch0(source + PrefetchRows * d + line);
            for (int a = 0; a < d; a++) row[a] = source[a] - centre[a];
            // Whole vectors from each xₐ on: the few values a vector writes past the end of its row of the triangle are
            // overwritten by the next row of it, or by x, 1 and the padding written after.
            for (int a = 0; a < d; a++)
            {
                var scale = Vector512.Create(row[a]);
                double* products = target + Offset(a, d);
                for (int b = a; b < d; b += W) (scale * Vector512.Load(row + b)).Store(products + b - a);
            }
            int e = 0;
            for (; e <= d - W; e += W) Vector512.Load(row + e).Store(target + triangle + e);
            for (; e < d; e++) target[triangle + e] = row[e];
            target[triangle + d] = 1.0;
            for (e = triangle + d + 1; e < stride; e++) target[e] = 0.0;
        }
    }
}
