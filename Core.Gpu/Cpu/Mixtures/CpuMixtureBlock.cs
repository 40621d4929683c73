namespace Hybrid.Core.Gpu.Cpu;

/// <summary>One block of rows of a Cpu mixture pass: weighted log-densities, responsibilities, and their moments added
/// to a partial <see cref="MixtureStatistics"/> (the scatter of full and tied in its upper triangles only). A block is
/// a few hundred rows, so that its products and scratch stay in the core's L2 cache.</summary>
internal static unsafe partial class CpuMixtureBlock
{
    /// <summary>Rows per block.</summary>
    public const int Rows = 256;

    /// <summary>Scratch of one worker thread, grown on demand and pinned so that the loops take its address freely.</summary>
    sealed class Scratch
    {
        public double[] Rows = [], LogProb = [], Product = [], Weighted = [], Roots = [], Augmented = [], Moments = [],
            Partial = [];

        public static double[] Fit(double[] current, int length) =>
            current.Length >= length ? current : GC.AllocateUninitializedArray<double>(length, pinned: true);
    }

    [ThreadStatic] static Scratch? scratch;

    /// <summary>The <paramref name="rows"/> rows of x (stride d) minus <paramref name="centre"/>, in this thread's
    /// scratch (valid until its next call): the centred rows that the other methods read, value for value
    /// x - c.</summary>
    public static double* Centred(double* x, int rows, int d, double* centre)
    {
        var s = scratch ??= new Scratch();
        s.Rows = Scratch.Fit(s.Rows, rows * d);
        fixed (double* target = s.Rows)
        {
            for (int i = 0; i < rows; i++)
            {
                double* row = x + (long)i * d, centred = target + (long)i * d;
                int a = 0;
                for (; a <= d - 8; a += 8) (Vector512.Load(row + a) - Vector512.Load(centre + a)).Store(centred + a);
                for (; a < d; a++) centred[a] = row[a] - centre[a];
            }
            // Pinned at allocation: the address outlives the fixed statement.
            return target;
        }
    }

    /// <summary>The rows x k matrix log wⱼ + log N(xᵢ | j) into <paramref name="logProb"/> (row stride k). Diag and
    /// spherical read the extended rows (<see cref="MixtureRows"/>), made here unless given in <paramref name="z"/>.</summary>
    public static void LogDensities(CpuMixtureTerms t, double* x, int rows, double* logProb, bool openBlas, double* z = null)
    {
        int k = t.Components, d = t.Dimensions;
        fixed (double* constants = t.Constants, factors = t.Factors, centres = t.Centres)
        {
            if (t.Quadratic.Length > 0)
            {
                if (z == null) z = AugmentedRows(x, rows, d);
                var (from, columns) = MixtureRows.Columns(t.Type, d);
                if (Sliced(t, openBlas))
                {
                    var own = scratch ??= new Scratch();
                    own.Product = Scratch.Fit(own.Product, rows * MixtureProducts.Width(k));
                    fixed (double* q = t.QuadraticTiles, y = own.Product)
                        MixtureProducts.Densities(z + from, MixtureRows.Stride(d), rows, columns,
                            MixtureProducts.Aligned(q), k, logProb, y);
                    return;
                }
                fixed (double* q = t.Quadratic)
                    DoubleBlas.Multiply(openBlas, rows, k, columns, z + from, MixtureRows.Stride(d), q, k, logProb, k);
                return;
            }
            if (t.Whitening != null && openBlas)
            {
                MixtureWhitening.LogDensities(t.Whitening, constants, x, rows, k, d, logProb);
                return;
            }
            // X U for every component at once (full: X [U₁ … Uₖ]; tied: X U), then (x - μ) U = x U - μ U, in slices of
            // rows whose product (about 256 KiB) stays in L2 until it is read back.
            bool full = t.Type == CovarianceType.Full;
            int width = full ? k * d : d;
            int slice = Math.Min(rows, Math.Max(4, 32768 / width));
            var s = scratch ??= new Scratch();
            s.Product = Scratch.Fit(s.Product, slice * width);
            fixed (double* y = s.Product)
                for (int first = 0; first < rows; first += slice)
                {
                    int count = Math.Min(slice, rows - first);
                    DoubleBlas.Multiply(openBlas, count, width, d, x + first * d, d, factors, width, y, width);
                    if (full) PerComponent(y, count, centres, constants, k, d, logProb + first * k);
                    else Shared(y, count, centres, constants, k, d, logProb + first * k);
                }
        }
    }

    static readonly Vector256<double> MinusHalf = Vector256.Create(-0.5);

    // The product rows x U of tied, which every component reads whole: two rows and four components at a time. A lone
    // last row is paired with itself.
    static void Shared(double* x, int rows, double* centres, double* constants, int k, int d, double* output)
    {
        for (int i = 0; i < rows; i += 2)
        {
            double* x0 = x + i * d, x1 = i + 1 < rows ? x0 + d : x0;
            double* out0 = output + i * k, out1 = out0 + k;
            int j = 0;
            for (; j <= k - 4; j += 4)
            {
                MixtureNorms.Norms2x4(x0, x1, centres + j * d, d, out var n0, out var n1);
                var constant = Vector256.Load(constants + j);
                Vector256.FusedMultiplyAdd(MinusHalf, n0, constant).Store(out0 + j);
                if (i + 1 < rows) Vector256.FusedMultiplyAdd(MinusHalf, n1, constant).Store(out1 + j);
            }
            for (; j < k; j++)
            {
                out0[j] = constants[j] - 0.5 * MixtureNorms.SquaredNorm(x0, centres + j * d, d);
                if (i + 1 < rows)
                    out1[j] = constants[j] - 0.5 * MixtureNorms.SquaredNorm(x1, centres + j * d, d);
            }
        }
    }

    // The product rows of full, where component j reads its own d columns y + j·d.
    static void PerComponent(double* y, int rows, double* centres, double* constants, int k, int d, double* output)
    {
        int width = k * d;
        for (int i = 0; i < rows; i++)
        {
            double* row = y + i * width, target = output + i * k;
            int j = 0;
            for (; j <= k - 4; j += 4)
                Vector256.FusedMultiplyAdd(MinusHalf, MixtureNorms.Norms4(row + j * d, centres + j * d, d),
                    Vector256.Load(constants + j)).Store(target + j);
            for (; j < k; j++)
                target[j] = constants[j] - 0.5 * MixtureNorms.SquaredNorm(row + j * d, centres + j * d, d);
        }
    }

    /// <summary>The block's rows extended (<see cref="MixtureRows"/>), in this thread's scratch.</summary>
    static double* AugmentedRows(double* x, int rows, int d)
    {
        var s = scratch ??= new Scratch();
        // The slack past the last row: what MixtureProducts.Moments may read there, kept finite.
        int length = rows * MixtureRows.Stride(d);
        s.Augmented = Scratch.Fit(s.Augmented, length + MixtureProducts.Slack);
        fixed (double* z = s.Augmented)
        {
            MixtureRows.Fill(x, rows, d, z);
            new Span<double>(z + length, MixtureProducts.Slack).Clear();
            // Pinned at allocation: the address outlives the fixed statement.
            return z;
        }
    }

    // Tied needs only Σⱼ Σᵢ rᵢⱼ (xᵢ - sⱼ)(xᵢ - sⱼ)ᵀ = Σᵢ ρᵢ xᵢxᵢᵀ - Σⱼ (sⱼ Sⱼᵀ + Sⱼ sⱼᵀ + Nⱼ sⱼsⱼᵀ), with ρᵢ = Σⱼ rᵢⱼ,
    // Nⱼ = Σᵢ rᵢⱼ and Sⱼ = Σᵢ rᵢⱼ (xᵢ - sⱼ) the sums about the shifts: one Gram matrix of the rows √ρᵢ xᵢ instead of one
    // per component, and the counts and sums from one product rᵀ [x, 1]. The second term is linear in N and S, so it is
    // taken once per chunk of blocks (<see cref="MoveTiedScatter"/>). The scatter is formed on and above the diagonal.
    static void AddTiedMoments(double* x, int rows, int d, double* r, int k, double* shifts, double* counts, double* sums,
        double* scatter, double* weighted, int stride, bool openBlas)
    {
        var s = scratch ??= new Scratch();
        int width = d + 1;
        double* z = AugmentedRows(x, rows, d);
        s.Moments = Scratch.Fit(s.Moments, k * width);
        fixed (double* moments = s.Moments)
        {
            DoubleBlas.MultiplyTransposed(openBlas, k, width, rows, r, k, z + d, MixtureRows.Stride(d), moments, width);
            int used = 0;
            for (int i = 0; i < rows; i++)
            {
                double rho = 0.0;
                for (int j = 0; j < k; j++) rho += r[i * k + j];
                // A row with no responsibility at all adds exactly nothing.
                if (rho == 0.0) continue;
                MixtureSimd.ScaledRow(x + i * d, d, Math.Sqrt(rho), weighted + used * stride, stride);
                used++;
            }
            MixtureGram.AddUpper(weighted, used, d, scatter);
            for (int j = 0; j < k; j++)
            {
                double* m = moments + j * width, shift = shifts + j * d;
                double count = m[d];
                counts[j] += count;
                for (int a = 0; a < d; a++) sums[j * d + a] += m[a] - shift[a] * count;
            }
        }
    }

    /// <summary>Tied, after the blocks of a chunk: moves the chunk's Σᵢ ρᵢ xᵢxᵢᵀ to the moments about the shifts by
    /// subtracting Σⱼ (sⱼ Sⱼᵀ + Sⱼ sⱼᵀ + Nⱼ sⱼsⱼᵀ), from its counts N and sums S (see <see cref="AddTiedMoments"/>).</summary>
    public static void MoveTiedScatter(CpuMixtureTerms t, MixtureStatistics part)
    {
        int k = t.Components, d = t.Dimensions;
        double[] shifts = t.Shifts, sums = part.Sums, scatter = part.Scatter;
        for (int j = 0; j < k; j++)
        {
            double count = part.Counts[j];
            for (int a = 0; a < d; a++)
            {
                double sa = shifts[j * d + a], ma = sums[j * d + a];
                for (int b = a; b < d; b++)
                {
                    double sb = shifts[j * d + b];
                    scatter[a * d + b] -= sa * (sums[j * d + b] + count * sb) + ma * sb;
                }
            }
        }
    }

    /// <summary>A pass over one block of rows x (stride d, not yet centred: <paramref name="centre"/> is subtracted as
    /// they are read): log-densities, responsibilities, moments; returns the block's log-likelihood. Not for the terms
    /// that go through <see cref="SlicedPass"/>.</summary>
    public static double Pass(CpuMixtureTerms t, double* x, double* centre, int rows, MixtureStatistics part, bool openBlas)
    {
        var s = scratch ??= new Scratch();
        s.LogProb = Scratch.Fit(s.LogProb, rows * t.Components);
        fixed (double* r = s.LogProb)
        {
            x = Centred(x, rows, t.Dimensions, centre);
            double* z = t.Quadratic.Length > 0 ? AugmentedRows(x, rows, t.Dimensions) : null;
            LogDensities(t, x, rows, r, openBlas, z);
            double logLikelihood = MixtureSimd.Normalise(r, rows, t.Components, 0.0);
            Accumulate(t, x, rows, r, part, openBlas, z);
            return logLikelihood;
        }
    }

    /// <summary>Adds the moments of the block's responsibilities <paramref name="r"/> (rows x k) about the shifts; diag
    /// and spherical read the extended rows (<see cref="MixtureRows"/>), made here unless given in <paramref name="z"/>.</summary>
    public static void Accumulate(CpuMixtureTerms t, double* x, int rows, double* r, MixtureStatistics part, bool openBlas,
        double* z = null)
    {
        int k = t.Components, d = t.Dimensions;
        var s = scratch ??= new Scratch();
        int stride = MixtureGram.Stride(d), slice = MixtureGram.SliceRows(d);
        if (t.Matrix) s.Weighted = Scratch.Fit(s.Weighted, rows * stride);
        fixed (double* shifts = t.Shifts, counts = part.Counts, sums = part.Sums, scatter = part.Scatter, weighted = s.Weighted)
        {
            if (!t.Matrix)
            {
                AddDiagonalMoments(t.Type, z != null ? z : AugmentedRows(x, rows, d), rows, d, r, k, shifts, counts, sums,
                    scatter, openBlas);
                return;
            }
            if (t.Type == CovarianceType.Tied)
            {
                AddTiedMoments(x, rows, d, r, k, shifts, counts, sums, scatter, weighted, stride, openBlas);
                return;
            }
            MixtureSimd.AddColumns(r, rows, k, counts);
            // The scatter Σ r c cᵀ is the Gram matrix of the rows √r c. Rows whose responsibility is exactly 0 would add
            // exactly nothing and are left out of it.
            s.Roots = Scratch.Fit(s.Roots, rows * k);
            int* used = stackalloc int[rows];
            fixed (double* roots = s.Roots)
            {
                MixtureSimd.SquareRoots(r, roots, rows * k);
                for (int j = 0; j < k; j++)
                {
                    int count = 0;
                    for (int i = 0; i < rows; i++)
                        if (r[i * k + j] != 0.0) used[count++] = i;
                    // A slice of weighted rows at a time, added to the scatter while it is in L1: the Gram kernel
                    // slices its rows the same way, so the sums are those of one call over all of them.
                    for (int first = 0; first < count; first += slice)
                    {
                        int length = Math.Min(slice, count - first);
                        MixtureSimd.WeightRows(x, d, used + first, length, r + j, roots + j, k, shifts + j * d,
                            sums + j * d, weighted, stride);
                        MixtureGram.AddUpper(weighted, length, d, scatter + j * d * d);
                    }
                }
            }
        }
    }
}
