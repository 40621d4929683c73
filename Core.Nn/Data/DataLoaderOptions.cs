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
