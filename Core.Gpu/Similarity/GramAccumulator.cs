namespace Hybrid.Core.Gpu;

/// <summary>K = X Xᵀ accumulated over feature chunks, for layers whose activations do not fit in memory at once: each
/// <see cref="Add"/> takes the next p_chunk features of all n probe inputs (an n x p_chunk block) and adds its Gram
/// matrix in float64. The sum stays on the device between chunks. Not thread-safe.</summary>
public sealed class GramAccumulator : IDisposable
{
    readonly IGramSum sum;
    int chunks;
    bool disposed;

    /// <summary>An empty accumulator for <paramref name="samples"/> probe inputs on <paramref name="device"/>.</summary>
    public GramAccumulator(Device device, int samples)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (samples < 1)
            throw new ArgumentException($"GramAccumulator: samples = {samples}, but at least 1 is required", nameof(samples));
        Samples = samples;
        sum = GramKernels.For(device).Sum(samples);
    }

    /// <summary>n, the rows every chunk must have.</summary>
    public int Samples { get; }

    /// <summary>Features added so far.</summary>
    public long Features { get; private set; }

    /// <summary>Adds the Gram matrix of the next chunk of features. The chunk is scanned for NaN and infinity first, so
    /// that the error can name the chunk and element (the sum cannot, once added).</summary>
    public void Add(Activations featureChunk)
    {
        const string operation = "GramAccumulator.Add";
        ObjectDisposedException.ThrowIf(disposed, this);
        featureChunk.Check(nameof(featureChunk), operation, 1, Samples);
        featureChunk.RequireFinite($"{nameof(featureChunk)} (chunk {chunks}, features from {Features})", operation);
        sum.Add(featureChunk.Data, featureChunk.Features);
        Features += featureChunk.Features;
        chunks++;
    }

    /// <summary>K so far (n x n, row-major, exactly symmetric); more chunks may be added afterwards.</summary>
    public double[] Result()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (chunks == 0) throw new InvalidOperationException("GramAccumulator.Result: no features have been added");
        return sum.Gram();
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        sum.Dispose();
    }
}
