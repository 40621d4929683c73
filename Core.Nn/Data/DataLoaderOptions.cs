namespace Hybrid.Core.Nn.Data;

/// <summary>How a <see cref="DataLoader"/> cuts, orders, normalises and augments a <see cref="LabelledImages"/>.
/// The defaults give batches of 64 in a seeded shuffled order, every image kept, no normalisation, no augmentation.</summary>
public sealed record DataLoaderOptions
{
    /// <summary>Images per batch (the last batch may be smaller unless <see cref="DropLast"/>).</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Shuffle the images anew every epoch; off, batches follow the dataset order.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Leave out the final batch when it would be smaller than <see cref="BatchSize"/>.</summary>
    public bool DropLast { get; init; }

    /// <summary>Seeds both the shuffle and the augmentation: the same seed and epoch give the same batches.</summary>
    public long Seed { get; init; }

    /// <summary>Per-channel mean subtracted after augmentation (length = channels), or null for none.</summary>
    public float[]? Mean { get; init; }

    /// <summary>Per-channel standard deviation divided by after subtracting <see cref="Mean"/> (length = channels,
    /// every entry finite and positive), or null for none.</summary>
    public float[]? Std { get; init; }

    /// <summary>Random-crop augmentation: each image is padded with this many zero pixels on every side (zero in
    /// pixel space, before normalisation, as torchvision's <c>RandomCrop(padding=p)</c>) and a window of the original
    /// size is taken at a uniformly random offset. 0 turns cropping off.</summary>
    public int CropPadding { get; init; }

    /// <summary>Random horizontal flip augmentation: each image is mirrored left-right with probability 1/2.</summary>
    public bool HorizontalFlip { get; init; }

    /// <summary>Threads that prepare a batch's images (at least 1). Each image is augmented from its own seeded
    /// stream, so the batches do not depend on this.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
}

/// <summary>One batch: <see cref="Count"/> images as float32 NCHW in <see cref="Images"/>, their int64
/// <see cref="Labels"/>, and the dataset <see cref="Indices"/> they were taken from.</summary>
public sealed record Batch(float[] Images, long[] Labels, int[] Indices, int Count, int Channels, int Height, int Width);

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
