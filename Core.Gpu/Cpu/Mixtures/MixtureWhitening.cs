namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The log-densities of full covariance without a stored product: for 32 rows at a time and one component,
/// y = x Uⱼ - μⱼUⱼ is built four columns at a time in AVX-512 registers whose lanes are eight rows (a 4 x 4 tile of
/// vectors: per row of Uⱼ, four loads of the block's transposed rows and four broadcasts feed 16 multiply-adds), and
/// only ‖y‖², accumulated lane-wise with no horizontal sum, leaves them. Against one dgemm of the block by
/// [U₁ … Uₖ] this saves OpenBLAS's packing and the clearing and re-reading of a rows x kd product, and each group of
/// four columns reads only the rows of Uⱼ that hold a non-zero in it: Uⱼ is triangular after the first M-step, so
/// about 45% of the multiply-adds of the dense product at d = 32 are skipped. Each row sums in the same order whatever
/// the rows around it, so results do not depend on the blocking.</summary>
internal static unsafe class MixtureWhitening
{
    const int W = 8;
    // Rows of a tile: four vectors of eight.
    const int TileRows = 4 * W;
    // Columns of y of a tile.
    const int Columns = 4;

    /// <summary>Whether this path runs (AVX-512 present); elsewhere full covariance takes the dgemm path.</summary>
    public static bool Supported => Vector512.IsHardwareAccelerated;

    /// <summary>Per component and group of <see cref="Columns"/> columns: the factor's d x 4 slice (zero past d), the
    /// negated projected centres (zero past d), and the rows [from, to) of the slice that hold a non-zero.</summary>
    public sealed record Layout(double[] Factors, double[] Centres, int[] Rows, int Groups);

    /// <summary>The sliced layout of <paramref name="u"/> (k x d x d) and the projected centres (k x d).</summary>
    public static Layout Prepare(double[] u, double[] centres, int k, int d)
    {
        int groups = (d + Columns - 1) / Columns;
        var factors = new double[k * groups * d * Columns];
        var negated = new double[k * groups * Columns];
        var rows = new int[k * groups * 2];
        for (int j = 0; j < k; j++)
            for (int g = 0; g < groups; g++)
            {
                int slice = j * groups + g, from = d, to = 0;
                for (int c = 0; c < Columns && g * Columns + c < d; c++)
                {
                    int b = g * Columns + c;
                    negated[slice * Columns + c] = -centres[j * d + b];
                    for (int a = 0; a < d; a++)
                    {
                        double v = u[(j * d + a) * d + b];
                        factors[(slice * d + a) * Columns + c] = v;
                        if (v == 0.0) continue;
                        from = Math.Min(from, a);
                        to = Math.Max(to, a + 1);
                    }
                }
                rows[2 * slice] = Math.Min(from, to);
                rows[2 * slice + 1] = to;
            }
        return new Layout(factors, negated, rows, groups);
    }

    [ThreadStatic] static double[]? transposed;

    /// <summary>output[i k + j] = constants[j] - ½ ‖xᵢ Uⱼ - μⱼUⱼ‖² for <paramref name="rows"/> rows of x (stride d).</summary>
    public static void LogDensities(Layout layout, double* constants, double* x, int rows, int k, int d, double* output)
    {
        // The rows transposed (d x pitch), so that eight rows' values of one feature are one vector; the padding rows
        // past the last are zero and their results are not written. The pitch is one vector more than the rows, so that
        // a tile's features do not all fall in the same few sets of the L1 cache (a pitch of 256 doubles would).
        int padded = (rows + TileRows - 1) / TileRows * TileRows, pitch = padded + W;
        if (transposed == null || transposed.Length < d * pitch)
            transposed = GC.AllocateUninitializedArray<double>(d * pitch, pinned: true);
        double* results = stackalloc double[k * TileRows];
        fixed (double* xt = transposed, factors = layout.Factors, centres = layout.Centres)
        fixed (int* ranges = layout.Rows)
        {
            Transpose(x, rows, padded, d, xt, pitch);
            int groups = layout.Groups;
            for (int i = 0; i < padded; i += TileRows)
            {
                for (int j = 0; j < k; j++)
                    Tile(xt + i, pitch, factors + (long)j * groups * d * Columns, centres + j * groups * Columns,
                        ranges + 2 * j * groups, groups, d, constants[j], results + j * TileRows);
                int count = Math.Min(TileRows, rows - i);
                for (int r = 0; r < count; r++)
                    for (int j = 0; j < k; j++) output[(long)(i + r) * k + j] = results[j * TileRows + r];
            }
        }
    }

    // xt[a pitch + i] = x[i d + a], 8 x 8 blocks in registers where whole, element by element elsewhere; zeros in the
    // padding rows.
    static void Transpose(double* x, int rows, int padded, int d, double* xt, int pitch)
    {
        int wholeRows = rows & ~(W - 1), wholeColumns = d & ~(W - 1);
        for (int i = 0; i < wholeRows; i += W)
            for (int a = 0; a < wholeColumns; a += W)
                Simd.Transpose8x8(x + (long)i * d + a, d, xt + (long)a * pitch + i, pitch);
        for (int i = 0; i < rows; i++)
            for (int a = i < wholeRows ? wholeColumns : 0; a < d; a++) xt[a * pitch + i] = x[i * d + a];
        for (int a = 0; a < d; a++)
            for (int i = rows; i < padded; i++) xt[a * pitch + i] = 0.0;
    }

    // constant - ½ Σ_b y_b² for the 32 rows of one tile and one component, into target[0..32).
    static void Tile(double* xt, int pitch, double* factors, double* centres, int* ranges, int groups, int d,
        double constant, double* target)
    {
        Vector512<double> q0 = default, q1 = default, q2 = default, q3 = default;
        for (int g = 0; g < groups; g++)
        {
            double* f = factors + g * d * Columns, c = centres + g * Columns;
            // Unrolled tile, rows x columns: the JIT keeps named Vector512 locals in registers but spills any array
            // of them. Each starts at -μⱼUⱼ, so that it ends at y - μⱼUⱼ.
            var c0 = Vector512.Create(c[0]);
            var c1 = Vector512.Create(c[1]);
            var c2 = Vector512.Create(c[2]);
            var c3 = Vector512.Create(c[3]);
            Vector512<double> a00 = c0, a01 = c1, a02 = c2, a03 = c3,
                a10 = c0, a11 = c1, a12 = c2, a13 = c3,
                a20 = c0, a21 = c1, a22 = c2, a23 = c3,
                a30 = c0, a31 = c1, a32 = c2, a33 = c3;
            for (int a = ranges[2 * g], to = ranges[2 * g + 1]; a < to; a++)
            {
                double* row = xt + (long)a * pitch, u = f + a * Columns;
                var x0 = Vector512.Load(row);
                var x1 = Vector512.Load(row + W);
                var x2 = Vector512.Load(row + 2 * W);
                var x3 = Vector512.Load(row + 3 * W);
                // One broadcast per column of the group, written out so the 16 accumulators stay named locals.
                var u0 = Vector512.Create(u[0]);
                a00 = Vector512.FusedMultiplyAdd(x0, u0, a00);
                a10 = Vector512.FusedMultiplyAdd(x1, u0, a10);
                a20 = Vector512.FusedMultiplyAdd(x2, u0, a20);
                a30 = Vector512.FusedMultiplyAdd(x3, u0, a30);
                var u1 = Vector512.Create(u[1]);
                a01 = Vector512.FusedMultiplyAdd(x0, u1, a01);
                a11 = Vector512.FusedMultiplyAdd(x1, u1, a11);
                a21 = Vector512.FusedMultiplyAdd(x2, u1, a21);
                a31 = Vector512.FusedMultiplyAdd(x3, u1, a31);
                var u2 = Vector512.Create(u[2]);
                a02 = Vector512.FusedMultiplyAdd(x0, u2, a02);
                a12 = Vector512.FusedMultiplyAdd(x1, u2, a12);
                a22 = Vector512.FusedMultiplyAdd(x2, u2, a22);
                a32 = Vector512.FusedMultiplyAdd(x3, u2, a32);
                var u3 = Vector512.Create(u[3]);
                a03 = Vector512.FusedMultiplyAdd(x0, u3, a03);
                a13 = Vector512.FusedMultiplyAdd(x1, u3, a13);
                a23 = Vector512.FusedMultiplyAdd(x2, u3, a23);
                a33 = Vector512.FusedMultiplyAdd(x3, u3, a33);
            }
            q0 = Squares(a00, a01, a02, a03, q0);
            q1 = Squares(a10, a11, a12, a13, q1);
            q2 = Squares(a20, a21, a22, a23, q2);
            q3 = Squares(a30, a31, a32, a33, q3);
        }
        // -½ q is exact, so this rounds as constant - 0.5 q does.
        var half = Vector512.Create(-0.5);
        var k0 = Vector512.Create(constant);
        Vector512.FusedMultiplyAdd(half, q0, k0).Store(target);
        Vector512.FusedMultiplyAdd(half, q1, k0).Store(target + W);
        Vector512.FusedMultiplyAdd(half, q2, k0).Store(target + 2 * W);
        Vector512.FusedMultiplyAdd(half, q3, k0).Store(target + 3 * W);
    }

    // q + y0² + y1² + y2² + y3², in that order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<double> Squares(Vector512<double> y0, Vector512<double> y1, Vector512<double> y2,
        Vector512<double> y3, Vector512<double> q) =>
        Vector512.FusedMultiplyAdd(y3, y3,
            Vector512.FusedMultiplyAdd(y2, y2, Vector512.FusedMultiplyAdd(y1, y1, Vector512.FusedMultiplyAdd(y0, y0, q))));
}
