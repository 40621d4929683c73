namespace Hybrid.Core.Nn.Data;

/// <summary>MNIST (LeCun et al. 1998): 28 x 28 grey handwritten digits 0-9, 60,000 for training and 10,000 for
/// testing, as the four IDX files of the original distribution (raw or <c>.gz</c>).</summary>
public static class Mnist
{
    /// <summary>The class names in label order: the digits.</summary>
    public static readonly IReadOnlyList<string> ClassNames = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    /// <summary>Loads the training or test split from <paramref name="directory"/>, pixels scaled to [0, 1].</summary>
    /// <exception cref="InputException">A file is missing or malformed, or images and labels disagree.</exception>
    public static LabelledImages Load(string directory, bool train)
    {
        ArgumentNullException.ThrowIfNull(directory);
        return IdxImageSet.Load(directory, train, ClassNames, "MNIST");
    }
}
