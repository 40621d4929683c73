namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The fast path on processors: host memory, OpenBLAS for GEMM-class work, SIMD C# on all cores for the rest.</summary>
internal sealed class CpuDevice : Device
{
    public static readonly CpuDevice Instance = new();

    CpuDevice() { }

    public override DeviceKind Kind => DeviceKind.Cpu;

    public override string Name => $"cpu ({CpuGemm.Engine}, {Environment.ProcessorCount} cores)";

    internal override IKernels Kernels { get; } = new CpuKernels();

    public override bool IsHost => true;
    public override DeviceArray<T> Allocate<T>(int length) => new HostArray<T>(this, length);
}
