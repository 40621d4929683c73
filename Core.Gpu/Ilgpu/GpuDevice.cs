using System.Collections.Concurrent;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

// ILGPU's CPU accelerator emits each kernel into a dynamic assembly named ILGPURuntime, which must see the internal
// parameter structs of our kernels.
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("ILGPURuntime")]

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>The ILGPU backend: one accelerator (CUDA, or ILGPU's CPU simulator) with its kernels compiled once.</summary>
internal sealed class GpuDevice : Device
{
    /// <summary>The simulated CPU device. ILGPU's default CPU device allows only 16 threads per group; the GEMM and the
    /// reductions use 256-thread groups, so the simulator is configured to match what every CUDA GPU offers.</summary>
    static readonly CPUDevice Simulator = new(numThreadsPerWarp: 32, numWarpsPerMultiprocessor: 8, numMultiprocessors: 1);

    /// <summary>One context for the process: it owns the compiled-kernel caches of both accelerator kinds. It is never
    /// disposed: devices may be re-created from it at any time until the process ends.</summary>
    static readonly Lazy<Context> SharedContext = new(() =>
        Context.Create(b => b.Cuda().CPU(Simulator).EnableAlgorithms().Optimize(OptimizationLevel.O1)));

    static readonly Lazy<bool> HasCuda = new(() =>
    {
        try { return SharedContext.Value.GetCudaDevices().Count > 0; }
        // A machine without the CUDA driver can fail while probing; that simply means "no CUDA".
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException or CudaException) { return false; }
    });

    static readonly object Gate = new();
    static GpuDevice? cudaDevice, simulatorDevice;

    readonly Accelerator accelerator;
    readonly GpuKernels kernels;
    readonly ConcurrentDictionary<Type, Delegate> fillKernels = new();
    readonly ConcurrentDictionary<Type, object> kernelSets = new();
    bool disposed;

    GpuDevice(Accelerator accelerator, string name)
    {
        this.accelerator = accelerator;
        Name = name;
        kernels = new GpuKernels(this);
    }

    /// <summary>True when ILGPU finds a CUDA device.</summary>
    public static new bool CudaAvailable => HasCuda.Value;

    /// <summary>The device of the given kind, created on first use and shared afterwards (until disposed).</summary>
    public static GpuDevice Shared(bool cuda)
    {
        lock (Gate)
        {
            return cuda ? cudaDevice ??= CreateCuda() : simulatorDevice ??= CreateSimulator();
        }
    }

    static GpuDevice CreateCuda()
    {
        if (!CudaAvailable) throw new InvalidOperationException("gpu: no CUDA device found");
        var device = SharedContext.Value.GetCudaDevice(0);
        return new GpuDevice(device.CreateAccelerator(SharedContext.Value), $"gpu (CUDA: {device.Name})");
    }

    static GpuDevice CreateSimulator()
    {
        var device = SharedContext.Value.GetCPUDevice(0);
        return new GpuDevice(device.CreateAccelerator(SharedContext.Value), "gpu (ILGPU CPU accelerator)");
    }

    public override DeviceKind Kind => DeviceKind.Gpu;
    public override string Name { get; }
    internal override IKernels Kernels => kernels;

    /// <summary>The accelerator, made current on the calling thread: CUDA contexts are per thread, and callers
    /// (test runners, data loaders) may reach the device from any thread.</summary>
    internal Accelerator Accelerator
    {
        get
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            accelerator.Bind();
            return accelerator;
        }
    }

    internal bool IsDisposed => disposed;

    public override DeviceArray<T> Allocate<T>(int length) => new GpuArray<T>(this, length);

    /// <summary>target[i] = value for element type <typeparamref name="T"/>, compiled on first use: Fill is rare and most
    /// element types never need it.</summary>
    internal Action<Index1D, ArrayView<T>, T> FillKernel<T>() where T : unmanaged =>
        (Action<Index1D, ArrayView<T>, T>)fillKernels.GetOrAdd(typeof(T),
            _ => Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, T>(Fill));

    /// <summary>The kernel set <typeparamref name="T"/> of one feature (mixtures, Gram matrices, search), created by
    /// <paramref name="create"/> on first use and kept for the device's life, so that each feature compiles its kernels
    /// once per accelerator and only when it is used.</summary>
    internal T KernelSet<T>(Func<GpuDevice, T> create) where T : class =>
        (T)kernelSets.GetOrAdd(typeof(T), _ => create(this));

    static void Fill<T>(Index1D i, ArrayView<T> target, T value) where T : unmanaged => target[i] = value;

    public override void Synchronize() => Accelerator.Synchronize();

    public override void Dispose()
    {
        lock (Gate)
        {
            if (disposed) return;
            accelerator.Synchronize();
            accelerator.Dispose();
            disposed = true;
            // A later Shared call builds a fresh device instead of handing out this dead one.
            if (ReferenceEquals(cudaDevice, this)) cudaDevice = null;
            if (ReferenceEquals(simulatorDevice, this)) simulatorDevice = null;
        }
        base.Dispose();
    }
}
