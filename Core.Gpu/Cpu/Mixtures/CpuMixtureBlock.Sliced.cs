namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The sliced pass of <see cref="CpuMixtureBlock"/> (diag, spherical and full on AVX-512): log-densities and
/// moments of a whole chunk of rows as two register-tiled products (<see cref="MixtureProducts"/>) with the rows
/// extended, a slice of rows at a time.</summary>
internal static unsafe partial class CpuMixtureBlock
{
    // Rows per slice of a sliced pass: diag's and spherical's extended rows (18 KiB at d = 32), the moments' tiles and
    // Q fit in L1 together; full's outer rows (145 KiB) stay in L2, and 8 or 16 rows a slice were slower (CPU time of a
    // 20-iteration fit at 100,000 x 32, k 16: 1.87 and 1.73-1.76 s against 1.69 s).
    const int SliceRows = 32;

    /// <summary>Whether <paramref name="t"/>'s log-densities come from <see cref="MixtureProducts"/>' register tiles
    /// (diag, spherical and full with AVX-512 and OpenBLAS), and so a pass goes through <see cref="SlicedPass"/> rather
    /// than block by block through <see cref="Pass"/>.</summary>
    public static bool Sliced(CpuMixtureTerms t, bool openBlas) => openBlas && t.QuadraticTiles.Length > 0;

    /// <summary>A diag, spherical or full pass over any number of rows x (stride d, less <paramref name="centre"/> as
    /// they are read) in slices of SliceRows rows, each centred and extended (<see cref="MixtureRows"/>, full
    /// <see cref="MixtureOuterRows"/>), turned into responsibilities and added to the moments while its extended rows
    /// are still in cache (over a block of 256 diag rows, the moments' tiles read them from L2 six times). The tiles carry
    /// over from slice to slice in memory and the log-likelihood in row order, so every sum is the one a single pass
    /// over the rows makes. Callers give it a whole chunk: the tiles are read out and moved to the shifts once per
    /// chunk, not per block (3% of a diag pass). Returns the log-likelihood.</summary>
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
