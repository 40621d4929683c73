using ReferenceDevice = Hybrid.Core.Gpu.Reference.ReferenceDevice;
using CpuDevice = Hybrid.Core.Gpu.Cpu.CpuDevice;
using GpuDevice = Hybrid.Core.Gpu.Ilgpu.GpuDevice;

namespace Hybrid.Core.Gpu;

/// <summary>Which implementation of the kernels a <see cref="Device"/> runs.</summary>
public enum DeviceKind
{
    /// <summary>Plain scalar loops: the specification every other backend is tested against.</summary>
    Reference,
    /// <summary>The fast path on processors: OpenBLAS for GEMM-class work, SIMD C# for the rest.</summary>
    Cpu,
    /// <summary>ILGPU kernels, on CUDA when an NVIDIA GPU is present, else on ILGPU's CPU accelerator.</summary>
    Gpu,
}

/// <summary>A place where arrays live and kernels run. Every operation checks that its arrays share one device.</summary>
public abstract class Device : IDisposable
{
    public abstract DeviceKind Kind { get; }

    /// <summary>Human-readable name, e.g. "cpu (OpenBLAS 0.3.21, 2 threads)" or "gpu (CUDA: NVIDIA H100)".</summary>
    public abstract string Name { get; }

    internal abstract IKernels Kernels { get; }

    /// <summary>A zero-filled array of <paramref name="length"/> elements on this device.</summary>
    public abstract DeviceArray<T> Allocate<T>(int length) where T : unmanaged;

    /// <summary>A new array on this device holding a copy of <paramref name="data"/>.</summary>
    public DeviceArray<T> Upload<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        var array = Allocate<T>(data.Length);
        array.CopyFrom(data);
        return array;
    }

    /// <summary>True for devices whose arrays live in host memory (Reference and Cpu), which can wrap host arrays.</summary>
    public virtual bool IsHost => false;

    /// <summary>An array of this device that shares <paramref name="data"/> without copying, so kernels write straight into
    /// it; only host devices (<see cref="IsHost"/>) can do this.</summary>
    public DeviceArray<T> Wrap<T>(T[] data) where T : unmanaged =>
        IsHost ? new HostArray<T>(this, data) : throw new InvalidOperationException($"{Name} keeps its arrays in device memory: upload instead of wrapping");

    /// <summary>Waits until every kernel queued on this device has finished (host devices run synchronously).</summary>
    public virtual void Synchronize() { }

    public virtual void Dispose() => GC.SuppressFinalize(this);

    public override string ToString() => Name;

    /// <summary>The scalar reference backend.</summary>
    public static Device Reference => ReferenceDevice.Instance;

    /// <summary>The OpenBLAS + SIMD backend.</summary>
    public static Device Cpu => CpuDevice.Instance;

    /// <summary>True when ILGPU finds a CUDA device.</summary>
    public static bool CudaAvailable => GpuDevice.CudaAvailable;

    /// <summary>The ILGPU backend: CUDA when <see cref="CudaAvailable"/> (or when <paramref name="preferCuda"/> is false, ILGPU's
    /// CPU accelerator, a slow simulator meant for testing the kernels without a GPU).</summary>
    public static Device Gpu(bool preferCuda = true) => GpuDevice.Shared(preferCuda && CudaAvailable);

    /// <summary>Parses "reference", "cpu" or "gpu"; "auto" picks gpu when CUDA is present, else cpu.</summary>
    public static Device Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "reference" or "ref" => Reference,
        "cpu" => Cpu,
        "gpu" => Gpu(),
        "auto" => CudaAvailable ? Gpu() : Cpu,
        _ => throw new ArgumentException($"unknown device '{name}': expected reference, cpu, gpu or auto"),
    };
}
