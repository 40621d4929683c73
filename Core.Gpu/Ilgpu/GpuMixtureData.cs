namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>The n x d data of one fit in accelerator memory, plus the device buffers its passes reuse (parameters,
/// k x n values, partial sums), grown on demand and freed with it. One fit uses it at a time: a pass overwrites the
/// buffers of the previous one.</summary>
internal sealed class GpuMixtureData : IMixtureData
{
    /// <summary>The reusable buffers of a pass.</summary>
    public enum Slot
    {
        /// <summary>Means of a pass, or the shifts of an accumulation (k x d).</summary>
        Shifts,
        /// <summary>Precision factors as the E-step reads them (full k x d x d, tied d x d, diag and spherical k x d).</summary>
        Factors,
        /// <summary>log wⱼ then log det Uⱼ (2k).</summary>
        Constants,
        /// <summary>Weighted log-densities, then responsibilities, component-major (k x n).</summary>
        Values,
        /// <summary>Per-sample log-likelihoods (n).</summary>
        LogLikelihoods,
        /// <summary>Per-slice partial statistics (slices x block).</summary>
        Partial,
        /// <summary>The statistics summed over slices (block).</summary>
        Totals,
    }

    readonly GpuArray<double>?[] buffers = new GpuArray<double>?[Enum.GetValues<Slot>().Length];
    bool disposed;

    public GpuMixtureData(GpuDevice device, double[] data, int n, int d)
    {
        Device = device;
        Samples = n;
        Dimensions = d;
        int length = checked(n * d);
        X = new GpuArray<double>(device, length);
        X.CopyFrom(data.AsSpan(0, length));
    }

    public GpuDevice Device { get; }
    public int Samples { get; }
    public int Dimensions { get; }

    /// <summary>The data, row-major n x d.</summary>
    public GpuArray<double> X { get; }

    /// <summary>The buffer of <paramref name="slot"/> with room for at least <paramref name="length"/> elements; its
    /// contents are whatever the last pass left.</summary>
    public GpuArray<double> Buffer(Slot slot, int length)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ref var buffer = ref buffers[(int)slot];
        if (buffer is null || buffer.Length < length)
        {
            buffer?.Dispose();
            buffer = new GpuArray<double>(Device, length);
        }
        return buffer;
    }

    /// <summary><see cref="Buffer"/> filled from the host.</summary>
    public GpuArray<double> Upload(Slot slot, ReadOnlySpan<double> values)
    {
        var buffer = Buffer(slot, values.Length);
        buffer.CopyFrom(values);
        return buffer;
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        X.Dispose();
        foreach (var buffer in buffers) buffer?.Dispose();
    }
}
