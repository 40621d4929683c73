namespace Hybrid.Core.Nn.Data;

/// <summary>A labelled image set held in memory: <see cref="Count"/> images of <see cref="Channels"/> x
/// <see cref="Height"/> x <see cref="Width"/> float32 pixels (row-major, NCHW) and one int64 label each, in
/// 0 .. <c>ClassNames.Count - 1</c>.</summary>
public sealed record LabelledImages(float[] Images, long[] Labels, int Count, int Channels, int Height, int Width,
    IReadOnlyList<string> ClassNames)
{
    /// <summary>Pixels per image (C x H x W).</summary>
    public int ImageSize => Channels * Height * Width;
}
