namespace Hybrid.Core.Gpu.Cpu;

/// <summary>A block's rows extended as [x², x, 1, ‖x‖²] (2d + 2 values, padded to whole vectors), so that the
/// log-densities of diag and spherical and the moments of diag, spherical and tied are matrix products with them (see
/// <see cref="CpuMixtureTerms.Quadratic"/>). Each type reads the columns it needs: diag [x², x, 1], spherical
/// [x, 1, ‖x‖²] (half the width: its one factor per component meets x² only through ‖x‖²), tied's sums [x, 1].</summary>
internal static unsafe class MixtureRows
{
    const int W = 8;
    // How far ahead Fill asks for the data's rows: two slices of a sliced pass (16 KiB at d = 32).
    const int PrefetchRows = 64;

    /// <summary>The padded length of an extended row.</summary>
    public static int Stride(int d) => (2 * d + 2 + W - 1) & ~(W - 1);

    /// <summary>The first column and the number of columns that <paramref name="type"/>'s products read.</summary>
    public static (int From, int Count) Columns(CovarianceType type, int d) => type switch
    {
        CovarianceType.Diag => (0, 2 * d + 1),
        CovarianceType.Spherical => (d, d + 2),
        _ => (d, d + 1),
    };

    /// <summary>The <paramref name="rows"/> rows of x (stride d), less <paramref name="centre"/> where given, extended,
    /// into z (stride <see cref="Stride"/>).</summary>
    public static void Fill(double* x, int rows, int d, double* z, double* centre = null)
    {
        int stride = Stride(d);
        for (int i = 0; i < rows; i++)
        {
            double* row = x + i * d, target = z + i * stride;
            // A pass's one read of the data waits on memory unless asked for ahead (diag: Fill 20% of the samples
            // without, 15% with); a prefetch past the data's end is a no-op, never a fault.
            if (Sse.IsSupported)
                for (int line = 0; line < d; line += W) Sse.Prefetch0(row + PrefetchRows * d + line);
            var norm = Vector512<double>.Zero;
            int a = 0;
            for (; a <= d - W; a += W)
            {
                var v = Vector512.Load(row + a);
                if (centre != null) v -= Vector512.Load(centre + a);
                var square = v * v;
                square.Store(target + a);
                v.Store(target + d + a);
                norm += square;
            }
            double tail = 0.0;
            for (; a < d; a++)
            {
                double v = centre == null ? row[a] : row[a] - centre[a];
                target[a] = v * v;
                target[d + a] = v;
                tail += target[a];
            }
            target[2 * d] = 1.0;
            target[2 * d + 1] = Vector512.Sum(norm) + tail;
            // The padding too: the products' tiles read it (and drop what they make of it), so it must be finite.
            for (a = 2 * d + 2; a < stride; a++) target[a] = 0.0;
        }
    }
}
