using Hybrid.Core.Gpu.Cpu;

namespace Hybrid.Core.Gpu;

/// <summary>k-means for starting a mixture, on the host for every backend: scikit-learn's greedy k-means++ seeding and
/// Lloyd iterations (<c>KMeans(n_clusters=k, n_init=1)</c>: at most 300 iterations, stopping when the labels stop
/// changing or the centres move by at most 1e-4 times the mean feature variance, squared and summed).</summary>
/// <remarks>Rows are split into fixed chunks whose partial sums are added in chunk order, so the result depends on the
/// data and the random draws only, never on the number of cores.</remarks>
internal static class KMeans
{
    const int ChunkRows = 4096;
    const int MaxIterations = 300;
    const double RelativeTolerance = 1e-4;

    /// <summary>The indices of k distinct points chosen by greedy k-means++: the first uniformly; each next one the best,
    /// by the summed squared distance of every point to its nearest chosen centre, of 2 + ⌊ln k⌋ candidates drawn with
    /// probability proportional to that squared distance. Needs at least k distinct rows.</summary>
    public static int[] PlusPlusSeeds(double[] x, int n, int d, int k, Random rng)
    {
        var seeds = new int[k];
        seeds[0] = rng.Next(n);
        var closest = new double[n];
        Ranges.Items(Chunks(n), c =>
        {
            for (int i = c * ChunkRows, end = Math.Min(n, i + ChunkRows); i < end; i++)
                closest[i] = SquaredDistance(x.AsSpan(i * d, d), x.AsSpan(seeds[0] * d, d));
        });

        int trials = 2 + (int)Math.Log(k);
        var cumulative = new double[n];
        var candidates = new int[trials];
        var distances = new double[trials][];
        for (int t = 0; t < trials; t++) distances[t] = new double[n];
        for (int chosen = 1; chosen < k; chosen++)
        {
            double potential = 0.0;
            for (int i = 0; i < n; i++) cumulative[i] = potential += closest[i];
            for (int t = 0; t < trials; t++) candidates[t] = Draw(cumulative, closest, rng.NextDouble() * potential);
            Ranges.Items(Chunks(n), c =>
            {
                for (int t = 0; t < trials; t++)
                    for (int i = c * ChunkRows, end = Math.Min(n, i + ChunkRows); i < end; i++)
                        distances[t][i] = Math.Min(closest[i],
                            SquaredDistance(x.AsSpan(i * d, d), x.AsSpan(candidates[t] * d, d)));
            });
            int best = 0;
            double bestPotential = double.PositiveInfinity;
            for (int t = 0; t < trials; t++)
            {
                double sum = 0.0;
                foreach (double v in distances[t]) sum += v;
                if (sum < bestPotential) (best, bestPotential) = (t, sum);
            }
            seeds[chosen] = candidates[best];
            (closest, distances[best]) = (distances[best], closest);
        }
        return seeds;
    }

    /// <summary>Cluster labels (n values in [0, k)) of Lloyd's algorithm from k-means++ seeds.</summary>
    public static int[] Labels(double[] x, int n, int d, int k, Random rng)
    {
        int[] seeds = PlusPlusSeeds(x, n, d, k, rng);
        var centres = new double[k * d];
        for (int j = 0; j < k; j++) Array.Copy(x, seeds[j] * d, centres, j * d, d);
        double tolerance = RelativeTolerance * MeanVariance(x, n, d);

        var labels = new int[n];
        var previous = new int[n];
        Array.Fill(previous, -1);
        var distance = new double[n];
        bool stable = false;
        for (int iteration = 0; iteration < MaxIterations && !stable; iteration++)
        {
            var (sums, counts) = Assign(x, n, d, centres, k, labels, distance);
            RelocateEmpty(x, d, k, labels, distance, sums, counts);
            double shift = 0.0;
            for (int j = 0; j < k; j++)
            {
                if (counts[j] == 0) continue;
                for (int a = 0; a < d; a++)
                {
                    double moved = sums[j * d + a] / counts[j];
                    shift += (moved - centres[j * d + a]) * (moved - centres[j * d + a]);
                    centres[j * d + a] = moved;
                }
            }
            stable = labels.AsSpan().SequenceEqual(previous);
            if (!stable && shift <= tolerance) break;
            Array.Copy(labels, previous, n);
        }
        // Stopped on a small shift rather than on stable labels: label the points by the final centres.
        if (!stable) Assign(x, n, d, centres, k, labels, distance);
        return labels;
    }

    /// <summary>Labels each row with its nearest centre (the lower index on ties), records the squared distance, and
    /// returns the per-cluster sums of the rows and their counts.</summary>
    static (double[] Sums, long[] Counts) Assign(double[] x, int n, int d, double[] centres, int k, int[] labels,
        double[] distance)
    {
        int chunks = Chunks(n);
        var partialSums = new double[chunks][];
        var partialCounts = new long[chunks][];
        Ranges.Items(chunks, c =>
        {
            var sums = partialSums[c] = new double[k * d];
            var counts = partialCounts[c] = new long[k];
            for (int i = c * ChunkRows, end = Math.Min(n, i + ChunkRows); i < end; i++)
            {
                var row = x.AsSpan(i * d, d);
                int best = 0;
                double bestDistance = double.PositiveInfinity;
                for (int j = 0; j < k; j++)
                {
                    double dist = SquaredDistance(row, centres.AsSpan(j * d, d));
                    if (dist < bestDistance) (best, bestDistance) = (j, dist);
                }
                labels[i] = best;
                distance[i] = bestDistance;
                counts[best]++;
                for (int a = 0; a < d; a++) sums[best * d + a] += row[a];
            }
        });
        for (int c = 1; c < chunks; c++)
        {
            for (int e = 0; e < k * d; e++) partialSums[0][e] += partialSums[c][e];
            for (int j = 0; j < k; j++) partialCounts[0][j] += partialCounts[c][j];
        }
        return (partialSums[0], partialCounts[0]);
    }

    // An empty cluster takes the point farthest from its centre, as scikit-learn relocates empty clusters; the point
    // leaves its old cluster's sums. The labels themselves change in the next assignment.
    static void RelocateEmpty(double[] x, int d, int k, int[] labels, double[] distance, double[] sums, long[] counts)
    {
        int empty = counts.Count(c => c == 0);
        if (empty == 0) return;
        int[] farthest = Enumerable.Range(0, labels.Length).OrderByDescending(i => distance[i]).ThenBy(i => i)
            .Take(empty).ToArray();
        int next = 0;
        for (int j = 0; j < k; j++)
        {
            if (counts[j] != 0) continue;
            int point = farthest[next++], old = labels[point];
            for (int a = 0; a < d; a++)
            {
                sums[old * d + a] -= x[point * d + a];
                sums[j * d + a] = x[point * d + a];
            }
            counts[old]--;
            counts[j] = 1;
        }
    }

    // The first index whose cumulative weight exceeds the draw, so a point at zero distance from a chosen centre (zero
    // weight) is never drawn; a draw that rounding put at the very end takes the last point of positive weight.
    static int Draw(double[] cumulative, double[] weight, double draw)
    {
        int lo = 0, hi = cumulative.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (cumulative[mid] > draw) hi = mid;
            else lo = mid + 1;
        }
        while (lo > 0 && weight[lo] == 0.0) lo--;
        return lo;
    }

    static double MeanVariance(double[] x, int n, int d)
    {
        double total = 0.0;
        for (int a = 0; a < d; a++)
        {
            double mean = 0.0, squares = 0.0;
            for (int i = 0; i < n; i++) mean += x[i * d + a];
            mean /= n;
            for (int i = 0; i < n; i++) squares += (x[i * d + a] - mean) * (x[i * d + a] - mean);
            total += squares / n;
        }
        return total / d;
    }

    static int Chunks(int n) => (n + ChunkRows - 1) / ChunkRows;

    static double SquaredDistance(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var lanes = Vector256<double>.Zero;
        int i = 0;
        for (; i <= a.Length - Vector256<double>.Count; i += Vector256<double>.Count)
        {
            var diff = Vector256.Create(a[i..]) - Vector256.Create(b[i..]);
            lanes += diff * diff;
        }
        double sum = Vector256.Sum(lanes);
        for (; i < a.Length; i++) sum += (a[i] - b[i]) * (a[i] - b[i]);
        return sum;
    }
}
