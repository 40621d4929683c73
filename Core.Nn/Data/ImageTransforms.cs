namespace Hybrid.Core.Nn.Data;

/// <summary>Reshaping a labelled image set so that a model trained on other images takes it, e.g. Fashion-MNIST
/// (1 x 28 x 28) for a CIFAR model (3 x 32 x 32): <c>data.RepeatChannel(3).PadTo(32, 32)</c>. Each returns a new set
/// with the same labels and class names; pixel values are not changed, so normalisation still applies after.</summary>
public static class ImageTransforms
{
    /// <summary>Grey images as <paramref name="channels"/>-channel ones, the single channel copied into each (a grey
    /// image as RGB).</summary>
    public static LabelledImages RepeatChannel(this LabelledImages data, int channels)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Channels != 1)
            throw new ArgumentException($"RepeatChannel: the images have {data.Channels} channels; only 1-channel images can be repeated", nameof(data));
        if (channels < 1) throw new ArgumentException($"RepeatChannel: channels must be positive, not {channels}", nameof(channels));
        int plane = data.Height * data.Width;
        var images = new float[(long)data.Count * channels * plane];
        for (int i = 0; i < data.Count; i++)
            for (int c = 0; c < channels; c++)
                Array.Copy(data.Images, (long)i * plane, images, ((long)i * channels + c) * plane, plane);
        return data with { Images = images, Channels = channels };
    }

    /// <summary>Images zero-padded (zero in pixel space, before any normalisation) to <paramref name="height"/> x
    /// <paramref name="width"/>, centred; when the margin is odd the extra row or column goes below or to the right.</summary>
    public static LabelledImages PadTo(this LabelledImages data, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (height < data.Height || width < data.Width)
            throw new ArgumentException(
                $"PadTo: {data.Height}x{data.Width} images cannot be padded to the smaller {height}x{width}", nameof(height));
        int top = (height - data.Height) / 2, left = (width - data.Width) / 2;
        var images = new float[(long)data.Count * data.Channels * height * width];
        for (long plane = 0; plane < (long)data.Count * data.Channels; plane++)
            for (int y = 0; y < data.Height; y++)
                Array.Copy(data.Images, (plane * data.Height + y) * data.Width, images,
                    (plane * height + top + y) * width + left, data.Width);
        return data with { Images = images, Height = height, Width = width };
    }
}
