namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The full-covariance part of <see cref="CpuMixtureBlock"/>'s sliced pass: its moments come as one product of
/// the responsibilities' transpose with the outer rows of <see cref="MixtureOuterRows"/>.</summary>
internal static unsafe partial class CpuMixtureBlock
{
    // The moments about the shifts s from the product m = rᵀ [xxᵀ (upper triangle), x, 1] of a pass: with N = Σ r,
    // S = Σ r x and M = Σ r xxᵀ, Σ r (x - s) = S - sN and Σ r (x - s)(x - s)ᵀ = M - sSᵀ - Ssᵀ + N ssᵀ, the latter on
    // and above the diagonal (the caller mirrors it).
    static void AddOuterMoments(double* moments, int d, int k, double* shifts, double* counts, double* sums,
        double* scatter)
    {
        int width = MixtureOuterRows.Width(d), triangle = MixtureOuterRows.Triangle(d);
        int[] indices = MixtureOuterRows.Indices(d);
        for (int j = 0; j < k; j++)
        {
            double* m = moments + (long)j * width, first = m + triangle, shift = shifts + j * d;
            double* target = scatter + (long)j * d * d;
            double count = first[d];
            counts[j] += count;
            for (int a = 0; a < d; a++)
            {
                double sa = shift[a], ma = first[a];
                sums[j * d + a] += ma - sa * count;
                for (int b = a; b < d; b++)
                {
                    double sb = shift[b];
                    target[a * d + b] += m[indices[a * d + b]] - sa * first[b] - ma * sb + count * sa * sb;
                }
            }
        }
    }
}
