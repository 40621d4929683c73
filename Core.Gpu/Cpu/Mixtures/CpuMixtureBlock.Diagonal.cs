namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The diag and spherical part of <see cref="CpuMixtureBlock"/>: their moments as one product of the
/// responsibilities' transpose with the extended rows (<see cref="MixtureRows"/>).</summary>
internal static unsafe partial class CpuMixtureBlock
{
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
}
