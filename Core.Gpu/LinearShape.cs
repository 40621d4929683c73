namespace Hybrid.Core.Gpu;

/// <summary>y = x W^T + b with x: (Batch, InFeatures), W: (OutFeatures, InFeatures), y: (Batch, OutFeatures).</summary>
public readonly record struct LinearShape(int Batch, int InFeatures, int OutFeatures)
{
    public int InputLength => Batch * InFeatures;
    public int OutputLength => Batch * OutFeatures;
    public int WeightLength => OutFeatures * InFeatures;
    public override string ToString() => $"linear(batch {Batch}, in {InFeatures}, out {OutFeatures})";
}
