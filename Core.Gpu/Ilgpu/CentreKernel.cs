using ILGPU;
using ILGPU.Runtime;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>HKH and ||HKH||²_F on the device in one launch, without forming H: entry (i, j) of HKH is
/// K[i, j] - rowMean[i] - columnMean[j] + grandMean. A single group does it all, with barriers between the phases:
/// the centring is O(n²) (10⁴ entries for the usual 100 probe inputs, a few million at most), where one launch costs
/// more than the arithmetic and a grid-wide step would need another launch per phase. No atomics: the sums are
/// fixed-stride per thread, then added in thread order, so results are deterministic.</summary>
internal static class CentreKernel
{
    /// <summary>Threads of the group.</summary>
    const int Threads = 256;

    public static KernelConfig Config => new(1, Threads);

    /// <summary>means (2n scratch) receives the row means then the column means; squares[0] = ||HKH||²_F.</summary>
    public static void Run(ArrayView<double> k, ArrayView<double> means, ArrayView<double> centred, ArrayView<double> squares, int n)
    {
        var partial = SharedMemory.Allocate1D<double>(Threads);
        int t = Group.IdxX;
        for (int i = t; i < n; i += Threads)
        {
            double row = 0, column = 0;
            for (int j = 0; j < n; j++)
            {
                row += k[(long)i * n + j];
                column += k[(long)j * n + i];
            }
            means[i] = row / n;
            means[n + i] = column / n;
        }
        // A group barrier also orders the global writes above before the reads below.
        Group.Barrier();

        double sum = 0;
        for (int i = t; i < n; i += Threads) sum += means[i];
        double grandMean = Total(partial, t, sum) / n;

        double square = 0;
        long entries = (long)n * n;
        for (long e = t; e < entries; e += Threads)
        {
            int i = (int)(e / n), j = (int)(e - (long)i * n);
            double v = k[e] - means[i] - means[n + j] + grandMean;
            centred[e] = v;
            square += v * v;
        }
        double total = Total(partial, t, square);
        if (t == 0) squares[0] = total;
    }

    /// <summary>The sum of every thread's <paramref name="value"/>, returned to all threads. Thread 0 adds the 256
    /// values in order: a microsecond on a GPU, and two barriers instead of a tree's nine (barriers are what the
    /// CPU simulator pays for).</summary>
    static double Total(ArrayView<double> partial, int t, double value)
    {
        partial[t] = value;
        Group.Barrier();
        double total = 0;
        for (int u = 0; u < Threads; u++) total += partial[u];
        // partial is reused by the next call; everybody must have read it first.
        Group.Barrier();
        return total;
    }
}
