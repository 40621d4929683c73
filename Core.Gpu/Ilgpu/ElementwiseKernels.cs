using ILGPU;
using ILGPU.Runtime;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>Kernels of one thread per element (masks, biases) and the per-channel sum behind every bias gradient.</summary>
internal static class ElementwiseKernels
{
    /// <summary>Threads per group of <see cref="ChannelSum"/>; a power of two for the tree reduction.</summary>
    public const int SumThreads = 256;

    /// <summary>effective = weight where the score is positive, else 0.</summary>
    public static void ApplyMask(Index1D i, ArrayView<float> weight, ArrayView<float> scores, ArrayView<float> effective) =>
        effective[i] = scores[i] > 0f ? weight[i] : 0f;

    /// <summary>The straight-through score gradient gradEffective * weight, clipped to [-1, 1] when <paramref name="clip"/> is set.</summary>
    public static void ScoreGradient(Index1D i, ArrayView<float> gradEffective, ArrayView<float> weight, ArrayView<float> gradScores, int clip)
    {
        float v = gradEffective[i] * weight[i];
        // Comparisons rather than Math.Clamp keep NaN flowing through exactly as the reference's Math.Clamp does.
        if (clip != 0) v = v > 1f ? 1f : v < -1f ? -1f : v;
        gradScores[i] = v;
    }

    /// <summary>Only kept weights receive gradient.</summary>
    public static void WeightGradient(Index1D i, ArrayView<float> gradEffective, ArrayView<float> scores, ArrayView<float> gradWeight) =>
        gradWeight[i] = scores[i] > 0f ? gradEffective[i] : 0f;

    /// <summary>y[n, o] += bias[o] over a row-major (rows x <paramref name="features"/>) matrix.</summary>
    public static void AddBias(Index1D i, ArrayView<float> y, ArrayView<float> bias, int features) => y[i] += bias[i % features];

    /// <summary>Launch parameters of <see cref="ChannelSum"/>: data laid out (Batch, Channels, Plane).</summary>
    public readonly record struct SumParams(int Batch, int Channels, int Plane);

    /// <summary>sums[o] = sum over n and p of data[n, o, p]: one group per channel, its threads striding over the
    /// Batch * Plane elements and then combining their partial sums in shared memory. No atomics, so results are
    /// deterministic; an empty batch yields 0.</summary>
    public static void ChannelSum(ArrayView<float> data, ArrayView<float> sums, SumParams p)
    {
        var partial = SharedMemory.Allocate1D<float>(SumThreads);
        int o = Grid.IdxX, t = Group.IdxX, count = p.Batch * p.Plane;
        float sum = 0f;
        for (int e = t; e < count; e += SumThreads)
        {
            int n = e / p.Plane, q = e - n * p.Plane;
            sum += data[(n * p.Channels + o) * p.Plane + q];
        }
        partial[t] = sum;
        Group.Barrier();
        for (int half = SumThreads / 2; half > 0; half /= 2)
        {
            if (t < half) partial[t] += partial[t + half];
            Group.Barrier();
        }
        if (t == 0) sums[o] = partial[0];
    }

    public static KernelConfig ChannelSumConfig(int channels) => new(channels, SumThreads);
}
