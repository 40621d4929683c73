namespace Hybrid.Core.Nn.Data;

/// <summary>Per-channel pixel mean and standard deviation, for choosing <see cref="DataLoaderOptions.Mean"/> and
/// <see cref="DataLoaderOptions.Std"/> from a training set.</summary>
public sealed record ChannelStatistics(float[] Mean, float[] Std)
{
    /// <summary>The mean and population standard deviation of every channel over all images and positions,
    /// accumulated in float64.</summary>
    public static ChannelStatistics Of(LabelledImages data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Count == 0) throw new ArgumentException("no images to take statistics of", nameof(data));
        int plane = data.Height * data.Width;
        var mean = new float[data.Channels];
        var std = new float[data.Channels];
        for (int c = 0; c < data.Channels; c++)
        {
            double sum = 0, squares = 0;
            for (int n = 0; n < data.Count; n++)
                foreach (float v in data.Images.AsSpan((n * data.Channels + c) * plane, plane))
                {
                    sum += v;
                    squares += (double)v * v;
                }
            double count = (double)data.Count * plane, m = sum / count;
            mean[c] = (float)m;
            std[c] = (float)Math.Sqrt(Math.Max(0, squares / count - m * m));
        }
        return new ChannelStatistics(mean, std);
    }
}
