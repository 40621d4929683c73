using ILGPU;
using ILGPU.Runtime;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>An array in accelerator memory. Transfers go through the accelerator's default stream, so they are ordered
/// after every kernel queued before them and the host sees finished results.</summary>
internal sealed class GpuArray<T> : DeviceArray<T> where T : unmanaged
{
    readonly GpuDevice device;
    readonly MemoryBuffer1D<T, Stride1D.Dense> buffer;
    bool disposed;

    public GpuArray(GpuDevice device, int length) : base(device, length)
    {
        this.device = device;
        // Zero-length allocations are not portable across accelerators; keep one unused element instead.
        buffer = device.Accelerator.Allocate1D<T>(Math.Max(length, 1));
        buffer.MemSetToZero();
    }

    /// <summary>The whole backing store (at least one element, so kernels may be handed views of empty arrays; they never
    /// index past <see cref="DeviceArray{T}.Length"/>).</summary>
    public ArrayView<T> View => buffer.View;

    public override void Fill(T value)
    {
        if (Length == 0) return;
        device.FillKernel<T>()(Length, View, value);
    }

    protected override void CopyFromCore(ReadOnlySpan<T> source, int offset)
    {
        if (source.IsEmpty) return;
        var stream = device.Accelerator.DefaultStream;
        buffer.View.SubView(offset, source.Length).CopyFromCPU(stream, source);
    }

    protected override void CopyToCore(Span<T> destination, int offset)
    {
        if (destination.IsEmpty) return;
        var stream = device.Accelerator.DefaultStream;
        buffer.View.SubView(offset, destination.Length).CopyToCPU(stream, destination);
    }

    /// <summary>Copies the first <paramref name="count"/> elements into <paramref name="target"/> on the device.</summary>
    public void CopyTo(GpuArray<T> target, int count)
    {
        if (count == 0) return;
        _ = device.Accelerator;
        buffer.View.SubView(0, count).CopyTo(target.buffer.View.SubView(0, count));
    }

    public override void Dispose()
    {
        if (disposed) return;
        disposed = true;
        // A disposed accelerator has already released its buffers.
        if (!device.IsDisposed)
        {
            // Kernels queued on the stream may still read this memory; freeing it under them is undefined.
            device.Synchronize();
            buffer.Dispose();
        }
        base.Dispose();
    }
}
