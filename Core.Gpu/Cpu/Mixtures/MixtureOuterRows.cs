namespace Hybrid.Core.Gpu.Cpu;

/// <summary>A block's rows extended for full covariance as [xₐx_b (a ≤ b), x, 1] (d(d + 1)/2 + d + 1 values,
/// padded to whole vectors): the log-density of component j is then one row of this against a column of Q (-Pₐ_b,
/// -½Pₐₐ, Pμ and the constant, with P = UUᵀ), and the moments Σ r xxᵀ, Σ r x, Σ r are one product rᵀ with these
/// rows, so that both halves of a pass run on <see cref="MixtureProducts"/>' register tiles instead of a whitening per
/// component and a Gram matrix of the weighted rows per component. The products go by blocks of eight features: first
/// the whole blocks xᴬ ⊗ xᴮ (A &lt; B), each row of one a single aligned vector store at d = 32, then the upper
/// triangles of the diagonal blocks (packed rows of the whole triangle stored nearly every vector across two cache
/// lines: Fill took 14% of a full pass with them, 11-12% so).</summary>
internal static unsafe class MixtureOuterRows
{
    const int W = 8;
    // How far ahead Fill asks for the data's rows, as MixtureRows does.
    const int PrefetchRows = 64;

    /// <summary>The columns of an extended row that the products read.</summary>
    public static int Width(int d) => Triangle(d) + d + 1;

    /// <summary>The padded length of an extended row.</summary>
    public static int Stride(int d) => (Width(d) + W - 1) & ~(W - 1);

    /// <summary>The number of products xₐx_b with a ≤ b: where x starts in an extended row.</summary>
    public static int Triangle(int d) => d * (d + 1) / 2;

    /// <summary>indices[a d + b] = the column of xₐx_b in an extended row, for a ≤ b (the rest unused).</summary>
    public static int[] Indices(int d)
    {
        var indices = new int[d * d];
        int blocks = (d + W - 1) / W, column = 0;
        for (int p = 0; p < blocks; p++)
            for (int q = p + 1; q < blocks; q++)
                for (int a = p * W; a < p * W + Size(p, d); a++)
                    for (int b = q * W; b < q * W + Size(q, d); b++) indices[a * d + b] = column++;
        for (int p = 0; p < blocks; p++)
            for (int a = p * W; a < p * W + Size(p, d); a++)
                for (int b = a; b < p * W + Size(p, d); b++) indices[a * d + b] = column++;
        return indices;
    }

    // Features in block p: eight, fewer in a last partial block.
    static int Size(int p, int d) => Math.Min(W, d - p * W);

    /// <summary>The <paramref name="rows"/> rows of x (stride d), less <paramref name="centre"/>, extended into z
    /// (stride <see cref="Stride"/>), in the order of <see cref="Indices"/>; z must hold
    /// <see cref="MixtureProducts.Slack"/> doubles past its last row.</summary>
    public static void Fill(double* x, int rows, int d, double* z, double* centre)
    {
        int stride = Stride(d), triangle = Triangle(d), blocks = (d + W - 1) / W;
        // The centred row with a vector of zeros after it, so that every product reads whole vectors.
        double* row = stackalloc double[d + W];
        new Span<double>(row + d, W).Clear();
        for (int i = 0; i < rows; i++)
        {
            double* source = x + (long)i * d, target = z + (long)i * stride;
            if (Sse.IsSupported)
                for (int line = 0; line < d; line += W) Sse.Prefetch0(source + PrefetchRows * d + line);
            int c = 0;
            for (; c <= d - W; c += W) (Vector512.Load(source + c) - Vector512.Load(centre + c)).Store(row + c);
            for (; c < d; c++) row[c] = source[c] - centre[c];
            // Whole vectors, in increasing columns: what a vector writes past the values it owns (a partial block, a
            // short row of a triangle) is overwritten by the stores after it, the last of them by x, 1 and the padding.
            double* products = target;
            for (int p = 0; p < blocks; p++)
                for (int q = p + 1; q < blocks; q++)
                {
                    var right = Vector512.Load(row + q * W);
                    int size = Size(q, d);
                    for (int a = p * W; a < p * W + Size(p, d); a++, products += size)
                        (Vector512.Create(row[a]) * right).Store(products);
                }
            for (int p = 0; p < blocks; p++)
            {
                int end = p * W + Size(p, d);
                for (int a = p * W; a < end; products += end - a, a++)
                    (Vector512.Create(row[a]) * Vector512.Load(row + a)).Store(products);
            }
            int e = 0;
            for (; e <= d - W; e += W) Vector512.Load(row + e).Store(target + triangle + e);
            for (; e < d; e++) target[triangle + e] = row[e];
            target[triangle + d] = 1.0;
            for (e = triangle + d + 1; e < stride; e++) target[e] = 0.0;
        }
    }
}
