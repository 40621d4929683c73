namespace Hybrid.Core.Nn.Data;

/// <summary>The pair of IDX files that MNIST-style datasets ship per split (<c>{train|t10k}-images-idx3-ubyte</c>
/// and <c>{train|t10k}-labels-idx1-ubyte</c>, each raw or <c>.gz</c>), read into one <see cref="LabelledImages"/>.
/// MNIST and Fashion-MNIST share this layout and differ only in class names and where they are installed.</summary>
static class IdxImageSet
{
    /// <summary>Loads one split from <paramref name="directory"/>; <paramref name="dataset"/> names the dataset in
    /// errors and <paramref name="hint"/> (when given) is appended to the "folder not found" message.</summary>
    public static LabelledImages Load(string directory, bool train, IReadOnlyList<string> classNames, string dataset,
        string? hint = null)
    {
        if (!Directory.Exists(directory))
            throw new InputException(directory, $"{dataset} folder not found" + (hint is null ? "" : $" ({hint})"));
        string prefix = train ? "train" : "t10k";
        var images = IdxFile.Read(Find(directory, $"{prefix}-images-idx3-ubyte"));
        var labels = IdxFile.Read(Find(directory, $"{prefix}-labels-idx1-ubyte"));
        if (images.Shape.Count != 3)
            throw new InputException(images.Path, $"expected 3 dimensions (N x H x W), found {images.Shape.Count}");
        if (labels.Shape.Count != 1 || labels.Shape[0] != images.Shape[0])
            throw new InputException(labels.Path, $"{string.Join(" x ", labels.Shape)} labels for {images.Shape[0]} images");
        long[] y = labels.ToInt64();
        int classes = classNames.Count;
        for (int i = 0; i < y.Length; i++)
            if (y[i] < 0 || y[i] >= classes)
                throw new InputException(labels.Path, $"label {i} is {y[i]}, outside 0..{classes - 1}");
        return new LabelledImages(images.ToFloat32(1f / 255f), y, images.Shape[0], 1, images.Shape[1], images.Shape[2],
            classNames);
    }

    static string Find(string directory, string stem)
    {
        foreach (var name in new[] { stem + ".gz", stem })
        {
            string path = Path.Combine(directory, name);
            if (File.Exists(path)) return path;
        }
        throw new InputException(Path.Combine(directory, stem + ".gz"), "file not found");
    }
}
