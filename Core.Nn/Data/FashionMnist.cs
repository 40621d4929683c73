namespace Hybrid.Core.Nn.Data;

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
    /// <exception cref="InputException">A file is missing or malformed, or images and labels disagree.</exception>
    public static LabelledImages Load(bool train, string? directory = null)
    {
        directory ??= DefaultDirectory;
        return IdxImageSet.Load(directory, train, ClassNames, "Fashion-MNIST",
            directory == DefaultDirectory ? "apt-get install -y dataset-fashion-mnist" : null);
    }
}
