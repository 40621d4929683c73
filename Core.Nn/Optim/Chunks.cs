using System.Buffers;
using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn.Optim;

/// <summary>Runs an element-wise update over a parameter in chunks: each chunk makes all of its passes (decay, moments,
/// step) while its slices are still in cache, and chunks of large parameters run in parallel.</summary>
internal static class Chunks
{
    // 16K elements: a float chunk and its two scratch slices fit in L2 together with the state slices it touches.
    const int Size = 1 << 14;

    // Below this many elements handing chunks to the thread pool costs more than the arithmetic.
    const int ParallelThreshold = 1 << 18;

    /// <summary>Calls <paramref name="body"/>(start, count) for consecutive chunks covering [0, length).</summary>
    public static void For(int length, Action<int, int> body) => Ranges.InChunks(length, Size, ParallelThreshold, body);

    /// <summary>A pooled buffer of at least one chunk; return it with <see cref="Return{T}"/>.</summary>
    public static T[] Rent<T>() => ArrayPool<T>.Shared.Rent(Size);

    public static void Return<T>(T[] buffer) => ArrayPool<T>.Shared.Return(buffer);
}
