namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>The ILGPU backend (placeholder).</summary>
internal sealed class GpuDevice : Device
{
    public static bool CudaAvailable => false;
    public static GpuDevice Shared(bool cuda) => throw new NotImplementedException("placeholder: the ILGPU backend is being written");
    public override DeviceKind Kind => DeviceKind.Gpu;
    public override string Name => "gpu";
    internal override IKernels Kernels => throw new NotImplementedException();
    public override DeviceArray<T> Allocate<T>(int length) => throw new NotImplementedException();
}
