namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The log-densities of full covariance without a stored product: for four rows at a time and one component,
/// y = x Uⱼ - μⱼUⱼ is built in AVX-512 registers (Uⱼ's rows broadcast-multiplied into up to 32 columns of accumulators)
/// and only ‖y‖² leaves them. Against one dgemm of the block by [U₁ … Uₖ] this saves OpenBLAS's packing of both
/// operands and the clearing and re-reading of a rows x kd product, and it skips the 8 x 8 blocks of Uⱼ that are zero:
/// Uⱼ is triangular after the first M-step, so about 40% of the multiply-adds of the dense product at d = 32.
/// Each row sums its columns in the same order whatever the rows around it, so results do not depend on the blocking.</summary>
internal static unsafe class MixtureWhitening
{
    const int W = 8;
    // Columns of y held in registers at once: four vectors per row, four rows.
    const int Group = 4 * W;

    /// <summary>Whether this path runs (AVX-512 present); elsewhere full covariance takes the dgemm path.</summary>
    public static bool Supported => Vector512.IsHardwareAccelerated;

    /// <summary>The columns of y padded to whole vectors.</summary>
    public static int Stride(int d) => (d + W - 1) & ~(W - 1);

    /// <summary>Factors Uⱼ (k x d x d) as k x d x <see cref="Stride"/>(d) with zero padding, and for every component, group of
    /// 32 columns and factor row, the first vector of that row's part of the group that holds a non-zero (4 when none).</summary>
    public sealed record Layout(double[] Factors, double[] Centres, byte[] FirstVector);

    /// <summary>The padded layout of <paramref name="u"/> (k x d x d) and the projected centres (k x d).</summary>
    public static Layout Prepare(double[] u, double[] centres, int k, int d)
    {
        int stride = Stride(d), groups = (stride + Group - 1) / Group;
        var factors = new double[k * d * stride];
        var padded = new double[k * stride];
        var first = new byte[k * groups * d];
        for (int j = 0; j < k; j++)
        {
            Array.Copy(centres, j * d, padded, j * stride, d);
            for (int a = 0; a < d; a++)
            {
                Array.Copy(u, (j * d + a) * d, factors, (j * d + a) * stride, d);
                for (int g = 0; g < groups; g++)
                {
                    int vector = 0;
                    for (; vector < 4; vector++)
                    {
                        int from = g * Group + vector * W, to = Math.Min(d, from + W);
                        bool nonZero = false;
                        for (int b = from; b < to; b++) nonZero |= u[(j * d + a) * d + b] != 0.0;
                        if (nonZero) break;
                    }
                    first[(j * groups + g) * d + a] = (byte)vector;
                }
            }
        }
        return new Layout(factors, padded, first);
    }

    /// <summary>output[i k + j] = constants[j] - ½ ‖xᵢ Uⱼ - μⱼUⱼ‖² for <paramref name="rows"/> rows of x (stride d).</summary>
    public static void LogDensities(Layout layout, double* constants, double* x, int rows, int k, int d, double* output)
    {
        int stride = Stride(d), groups = (stride + Group - 1) / Group;
        double* norms = stackalloc double[4];
        fixed (double* factors = layout.Factors, centres = layout.Centres)
        fixed (byte* first = layout.FirstVector)
            for (int i = 0; i < rows; i += 4)
            {
                // A short last tile repeats its last row; only the real rows are written.
                double* x0 = x + (long)i * d, x1 = x + (long)Math.Min(i + 1, rows - 1) * d;
                double* x2 = x + (long)Math.Min(i + 2, rows - 1) * d, x3 = x + (long)Math.Min(i + 3, rows - 1) * d;
                for (int j = 0; j < k; j++)
                {
                    norms[0] = norms[1] = norms[2] = norms[3] = 0.0;
                    for (int g = 0; g < groups; g++)
                        AddNorms(x0, x1, x2, x3, factors + (long)j * d * stride + g * Group, stride,
                            centres + j * stride + g * Group, first + (j * groups + g) * d, d,
                            Math.Min(4, (stride - g * Group) / W), norms);
                    for (int r = 0; r < 4 && i + r < rows; r++) output[(long)(i + r) * k + j] = constants[j] - 0.5 * norms[r];
                }
            }
    }

    // Adds Σ y² over one group of up to four column vectors for four rows. Factor row a enters the vectors from
    // first[a] on (the ones before it are zero); vectors past `vectors` are padding and stay zero.
    static void AddNorms(double* x0, double* x1, double* x2, double* x3, double* u, int stride, double* centre,
        byte* first, int d, int vectors, double* norms)
    {
        // Unrolled tile: the JIT keeps named Vector512 locals in registers but spills any array of them.
        Vector512<double> a00 = default, a01 = default, a02 = default, a03 = default,
            a10 = default, a11 = default, a12 = default, a13 = default,
            a20 = default, a21 = default, a22 = default, a23 = default,
            a30 = default, a31 = default, a32 = default, a33 = default;
        bool has1 = vectors > 1, has2 = vectors > 2, has3 = vectors > 3;
        for (int a = 0; a < d; a++)
        {
            int from = first[a];
            if (from >= vectors) continue;
            double* row = u + (long)a * stride;
            var s0 = Vector512.Create(x0[a]);
            var s1 = Vector512.Create(x1[a]);
            var s2 = Vector512.Create(x2[a]);
            var s3 = Vector512.Create(x3[a]);
            if (from == 0)
            {
                var v = Vector512.Load(row);
                a00 = Vector512.FusedMultiplyAdd(s0, v, a00);
                a10 = Vector512.FusedMultiplyAdd(s1, v, a10);
                a20 = Vector512.FusedMultiplyAdd(s2, v, a20);
                a30 = Vector512.FusedMultiplyAdd(s3, v, a30);
            }
            if (from <= 1 && has1)
            {
                var v = Vector512.Load(row + W);
                a01 = Vector512.FusedMultiplyAdd(s0, v, a01);
                a11 = Vector512.FusedMultiplyAdd(s1, v, a11);
                a21 = Vector512.FusedMultiplyAdd(s2, v, a21);
                a31 = Vector512.FusedMultiplyAdd(s3, v, a31);
            }
            if (from <= 2 && has2)
            {
                var v = Vector512.Load(row + 2 * W);
                a02 = Vector512.FusedMultiplyAdd(s0, v, a02);
                a12 = Vector512.FusedMultiplyAdd(s1, v, a12);
                a22 = Vector512.FusedMultiplyAdd(s2, v, a22);
                a32 = Vector512.FusedMultiplyAdd(s3, v, a32);
            }
            if (has3)
            {
                var v = Vector512.Load(row + 3 * W);
                a03 = Vector512.FusedMultiplyAdd(s0, v, a03);
                a13 = Vector512.FusedMultiplyAdd(s1, v, a13);
                a23 = Vector512.FusedMultiplyAdd(s2, v, a23);
                a33 = Vector512.FusedMultiplyAdd(s3, v, a33);
            }
        }
        Vector512<double> q0 = default, q1 = default, q2 = default, q3 = default;
        AddSquares(Vector512.Load(centre), a00, a10, a20, a30, ref q0, ref q1, ref q2, ref q3);
        if (has1) AddSquares(Vector512.Load(centre + W), a01, a11, a21, a31, ref q0, ref q1, ref q2, ref q3);
        if (has2) AddSquares(Vector512.Load(centre + 2 * W), a02, a12, a22, a32, ref q0, ref q1, ref q2, ref q3);
        if (has3) AddSquares(Vector512.Load(centre + 3 * W), a03, a13, a23, a33, ref q0, ref q1, ref q2, ref q3);
        norms[0] += Vector512.Sum(q0);
        norms[1] += Vector512.Sum(q1);
        norms[2] += Vector512.Sum(q2);
        norms[3] += Vector512.Sum(q3);
    }

    // qᵣ += (yᵣ - c)² for the four rows' column vector yᵣ.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void AddSquares(Vector512<double> c, Vector512<double> y0, Vector512<double> y1, Vector512<double> y2,
        Vector512<double> y3, ref Vector512<double> q0, ref Vector512<double> q1, ref Vector512<double> q2,
        ref Vector512<double> q3)
    {
        q0 = Vector512.FusedMultiplyAdd(y0 - c, y0 - c, q0);
        q1 = Vector512.FusedMultiplyAdd(y1 - c, y1 - c, q1);
        q2 = Vector512.FusedMultiplyAdd(y2 - c, y2 - c, q2);
        q3 = Vector512.FusedMultiplyAdd(y3 - c, y3 - c, q3);
    }
}
