using Hybrid.Core.Gpu.Cpu;
using Hybrid.Core.Gpu.Ilgpu;
using Hybrid.Core.Gpu.Reference;

namespace Hybrid.Core.Gpu;

/// <summary>The mixture kernels of each device.</summary>
internal static class MixtureBackends
{
    internal static IMixtureKernels For(Device device) => device.Kind switch
    {
        DeviceKind.Reference => ReferenceMixtureKernels.Instance,
        DeviceKind.Cpu => CpuMixtureKernels.Instance,
        DeviceKind.Gpu => ((GpuDevice)device).KernelSet(g => new GpuMixtureKernels(g)),
        _ => throw new ArgumentOutOfRangeException(nameof(device), device.Kind, "unknown device kind"),
    };
}
