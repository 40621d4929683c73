namespace Hybrid.Core.Nn.Data;

/// <summary>A labelled image set held in memory: <see cref="Count"/> images of <see cref="Channels"/> x
/// <see cref="Height"/> x <see cref="Width"/> float32 pixels (row-major, NCHW) and one int64 label each.</summary>
public sealed record LabelledImages(float[] Images, long[] Labels, int Count, int Channels, int Height, int Width,
    IReadOnlyList<string> ClassNames)
{
    /// <summary>Pixels per image (C x H x W).</summary>
    public int ImageSize => Channels * Height * Width;
}

/// <summary>Fashion-MNIST (Xiao et al. 2017): 28 x 28 grey clothing images in 10 classes, 60,000 for training and
/// 10,000 for testing, as the IDX files of the Debian package <c>dataset-fashion-mnist</c>.</summary>
public static class FashionMnist
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The class names in label order.</summary>
    public static readonly IReadOnlyList<string> ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Loads the training or test split from <paramref name="directory"/> (default
    /// <see cref="DefaultDirectory"/>), pixels scaled to [0, 1]. The files may be gzip-compressed (<c>.gz</c>) or raw.</summary>
    /// <exception cref="DatasetException">A file is missing or malformed, or images and labels disagree.</exception>
    public static LabelledImages Load(bool train, string? directory = null)
    {
        directory ??= DefaultDirectory;
        if (!Directory.Exists(directory))
            throw new DatasetException(directory,
                "Fashion-MNIST folder not found" + (directory == DefaultDirectory ? " (apt-get install -y dataset-fashion-mnist)" : ""));
        string prefix = train ? "train" : "t10k";
        var images = IdxFile.Read(Find(directory, $"{prefix}-images-idx3-ubyte"));
        var labels = IdxFile.Read(Find(directory, $"{prefix}-labels-idx1-ubyte"));
        if (images.Shape.Count != 3)
            throw new DatasetException(images.Path, $"expected 3 dimensions (N x 28 x 28), found {images.Shape.Count}");
        if (labels.Shape.Count != 1 || labels.Shape[0] != images.Shape[0])
            throw new DatasetException(labels.Path, $"{string.Join(" x ", labels.Shape)} labels for {images.Shape[0]} images");
        long[] y = labels.ToInt64();
        for (int i = 0; i < y.Length; i++)
            if (y[i] is < 0 or > 9) throw new DatasetException(labels.Path, $"label {i} is {y[i]}, outside 0..9");
        return new LabelledImages(images.ToFloat32(1f / 255f), y, images.Shape[0], 1, images.Shape[1], images.Shape[2], ClassNames);
    }

    static string Find(string directory, string stem)
    {
        foreach (var name in new[] { stem + ".gz", stem })
        {
            string path = Path.Combine(directory, name);
            if (File.Exists(path)) return path;
        }
        throw new DatasetException(Path.Combine(directory, stem + ".gz"), "file not found");
    }
}
