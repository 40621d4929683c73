using Hybrid.Core.Gpu.Reference;

namespace Hybrid.Core.Gpu;

/// <summary>y = x W^T + b with x: (Batch, InFeatures), W: (OutFeatures, InFeatures), y: (Batch, OutFeatures).</summary>
public readonly record struct LinearShape(int Batch, int InFeatures, int OutFeatures) : ILayerShape
{
    public int InputLength => Batch * InFeatures;
    public int OutputLength => Batch * OutFeatures;
    public int WeightLength => OutFeatures * InFeatures;
    public override string ToString() => $"linear(batch {Batch}, in {InFeatures}, out {OutFeatures})";

    int ILayerShape.BiasLength => OutFeatures;

    void ILayerShape.Check() => Validate.NonNegative(this, ("batch", Batch), ("in features", InFeatures), ("out features", OutFeatures));

    void ILayerShape.ReferenceForward<T>(T[] x, T[] weight, T[]? bias, T[] y) => ReferenceLoops.LinearForward(this, x, weight, bias, y);

    void ILayerShape.ReferenceBackward<T>(T[] x, T[] weight, T[] gradOut, T[]? gradInput, T[]? gradWeight, T[]? gradBias) =>
        ReferenceLoops.LinearBackward(this, x, weight, gradOut, gradInput, gradWeight, gradBias);
}
