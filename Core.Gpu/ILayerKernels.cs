namespace Hybrid.Core.Gpu;

/// <summary>A backend's kernels for the masked layer whose geometry is <typeparamref name="TShape"/>, run on the effective
/// weight and bias. <see cref="IKernels"/> has them for every layer shape, so <see cref="MaskedLayer{TShape}"/> finds a
/// layer's kernels by its shape's type.</summary>
internal interface ILayerKernels<TShape> where TShape : struct, ILayerShape
{
    void Forward(in TShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float>? bias, DeviceArray<float> y);

    void Backward(in TShape s, DeviceArray<float> x, DeviceArray<float> weight, DeviceArray<float> gradOut,
        DeviceArray<float>? gradInput, DeviceArray<float>? gradWeight, DeviceArray<float>? gradBias);
}
