namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The diag and spherical part of <see cref="CpuMixtureBlock"/>: their moments as one product of the
/// responsibilities' transpose with the extended rows (<see cref="MixtureRows"/>), and on AVX-512 the whole pass in
/// slices of rows that stay in L1.</summary>
internal static unsafe partial class CpuMixtureBlock
{
    // Rows per slice of a diag or spherical pass (SlicedPass): their extended rows (18 KiB at d = 32), the
    // moments' tiles and Q fit in L1 together.
    const int SliceRows = 32;

    // Diag and spherical moments as one product: rᵀ [x², x, 1] (diag) or rᵀ [x, 1, ‖x‖²] (spherical) gives Σ r x
    // and Σ r per component with Σ r x² or Σ r ‖x‖² (see AddShiftedMoments).
    static void AddDiagonalMoments(CovarianceType type, double* z, int rows, int d, double* r, int k, double* shifts,
        double* counts, double* sums, double* scatter, bool openBlas)
    {
        var s = scratch ??= new Scratch();
        var (from, width) = MixtureRows.Columns(type, d);
        s.Moments = Scratch.Fit(s.Moments, k * width);
        fixed (double* moments = s.Moments)
        {
            if (openBlas && MixtureProducts.Supported)
            {
                int length = MixtureProducts.PartialLength(k, width);
                s.Partial = Scratch.Fit(s.Partial, length);
                fixed (double* partial = s.Partial)
                {
                    new Span<double>(partial, length).Clear();
                    MixtureProducts.AddMoments(r, k, rows, z + from, MixtureRows.Stride(d), width, partial);
                    MixtureProducts.Extract(partial, k, width, moments);
                }
            }
            else
                DoubleBlas.MultiplyTransposed(openBlas, k, width, rows, r, k, z + from, MixtureRows.Stride(d), moments, width);
            AddShiftedMoments(type, moments, d, k, shifts, counts, sums, scatter);
        }
    }

    // The moments about the shifts s from the product m = rᵀ z of AddDiagonalMoments: Σ r (x - s) = Σ r x - s Σ r,
    // Σ r (x - s)² = Σ r x² - 2 s Σ r x + s² Σ r, and the sum of the latter over features for spherical.
    static void AddShiftedMoments(CovarianceType type, double* moments, int d, int k, double* shifts, double* counts,
        double* sums, double* scatter)
    {
        int width = MixtureRows.Columns(type, d).Count;
        bool spherical = type == CovarianceType.Spherical;
        // Where Σ r x and Σ r stand in a row of the product.
        int first = spherical ? 0 : d, ones = spherical ? d : 2 * d;
        for (int j = 0; j < k; j++)
        {
            double* m = moments + j * width, shift = shifts + j * d;
            double count = m[ones], moved = spherical ? m[d + 1] : 0.0;
            counts[j] += count;
            for (int a = 0; a < d; a++)
            {
                double sum = m[first + a], h = shift[a];
                sums[j * d + a] += sum - h * count;
                double move = h * (h * count - 2.0 * sum);
                if (spherical) moved += move;
                else scatter[j * d + a] += m[a] + move;
            }
            if (spherical) scatter[j] += moved;
        }
    }

    /// <summary>Whether <paramref name="t"/>'s log-densities come from <see cref="MixtureProducts"/>' register tiles (diag
    /// and spherical with AVX-512 and OpenBLAS), and so a pass goes through <see cref="SlicedPass"/> rather than block by
    /// block through <see cref="Pass"/>.</summary>
    public static bool Sliced(CpuMixtureTerms t, bool openBlas) => openBlas && t.QuadraticTiles.Length > 0;

    /// <summary>A diag or spherical pass over any number of rows x (stride d, less <paramref name="centre"/> as they
    /// are read) in slices of SliceRows rows, each centred and extended, turned into responsibilities and added to the
    /// moments while its extended rows are still in L1 (over a block of 256 rows, the moments' tiles read them from L2
    /// six times). The tiles carry over from slice to slice in memory and the log-likelihood in row order, so every
    /// sum is the one a single pass over the rows makes. Callers give it a whole chunk: the tiles are read out and
    /// moved to the shifts once per chunk, not per block (3% of a diag pass). Returns the log-likelihood.</summary>
    public static double SlicedPass(CpuMixtureTerms t, double* x, double* centre, int rows, MixtureStatistics part)
    {
        int k = t.Components, d = t.Dimensions;
        bool full = t.Type == CovarianceType.Full;
        int stride = full ? MixtureOuterRows.Stride(d) : MixtureRows.Stride(d);
        var (from, width) = full ? (0, MixtureOuterRows.Width(d)) : MixtureRows.Columns(t.Type, d);
        int length = MixtureProducts.PartialLength(k, width);
        var s = scratch ??= new Scratch();
        s.LogProb = Scratch.Fit(s.LogProb, SliceRows * k);
        s.Augmented = Scratch.Fit(s.Augmented, SliceRows * stride + MixtureProducts.Slack + MixtureProducts.LineSlack);
        s.Product = Scratch.Fit(s.Product, SliceRows * MixtureProducts.Width(k));
        s.Partial = Scratch.Fit(s.Partial, length + MixtureProducts.LineSlack);
        s.Moments = Scratch.Fit(s.Moments, k * width);
        double logLikelihood = 0.0;
        fixed (double* augmented = s.Augmented, y = s.Product, logProb = s.LogProb, tiles = s.Partial,
            moments = s.Moments, quadratic = t.QuadraticTiles)
        fixed (double* shifts = t.Shifts, counts = part.Counts, sums = part.Sums, scatter = part.Scatter)
        {
            // Scratch is pinned, so its aligned starts stay put.
            double* z = MixtureProducts.Aligned(augmented), partial = MixtureProducts.Aligned(tiles),
                q = MixtureProducts.Aligned(quadratic);
            new Span<double>(partial, length).Clear();
            for (int first = 0; first < rows; first += SliceRows)
            {
                int count = Math.Min(SliceRows, rows - first);
                if (full) MixtureOuterRows.Fill(x + (long)first * d, count, d, z, centre);
                else MixtureRows.Fill(x + (long)first * d, count, d, z, centre);
                // What AddMoments may read past the last row, kept finite.
                new Span<double>(z + count * stride, MixtureProducts.Slack).Clear();
                MixtureProducts.Densities(z + from, stride, count, width, q, k, logProb, y);
                logLikelihood = MixtureSimd.Normalise(logProb, count, k, logLikelihood);
                MixtureProducts.AddMoments(logProb, k, count, z + from, stride, width, partial);
            }
            MixtureProducts.Extract(partial, k, width, moments);
            if (full) AddOuterMoments(moments, d, k, shifts, counts, sums, scatter);
            else AddShiftedMoments(t.Type, moments, d, k, shifts, counts, sums, scatter);
        }
        return logLikelihood;
    }
}
