namespace Hybrid.Core.Nn.Data;

/// <summary>One batch: <see cref="Count"/> images as float32 NCHW in <see cref="Images"/>, their int64
/// <see cref="Labels"/>, and the dataset <see cref="Indices"/> they were taken from.</summary>
public sealed record Batch(float[] Images, long[] Labels, int[] Indices, int Count, int Channels, int Height, int Width);
