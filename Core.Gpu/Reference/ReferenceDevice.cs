namespace Hybrid.Core.Gpu.Reference;

/// <summary>The specification backend: host memory and scalar loops.</summary>
internal sealed class ReferenceDevice : Device
{
    public static readonly ReferenceDevice Instance = new();

    ReferenceDevice() { }

    public override DeviceKind Kind => DeviceKind.Reference;
    public override string Name => "reference";
    internal override IKernels Kernels { get; } = new ReferenceKernels();
    public override bool IsHost => true;
    public override DeviceArray<T> Allocate<T>(int length) => new HostArray<T>(this, length);
}
