using StbImageSharp;

namespace Hybrid.Core.Nn.Data;

/// <summary>A labelled image set laid out as torchvision's <c>ImageFolder</c>: one sub-folder per class (labels in the
/// ordinal order of the folder names), images decoded by StbImageSharp (PNG, JPEG, BMP, GIF, TGA, PSD, HDR) and
/// converted to RGB as torchvision's default loader does. All images must share one size: nothing is resized silently.</summary>
public static class ImageFolder
{
    static readonly HashSet<string> Extensions =
        new(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".psd", ".hdr" };

    /// <summary>Loads every image under the class folders of <paramref name="directory"/>, pixels scaled to [0, 1]
    /// (NCHW, 3 channels).</summary>
    /// <exception cref="InputException">The folder is missing or has no class folders or images, an image cannot be
    /// decoded (the file is named), or image sizes differ.</exception>
    public static LabelledImages Load(string directory)
    {
        if (!Directory.Exists(directory)) throw new InputException(directory, "image folder not found");
        string[] classes = Directory.GetDirectories(directory).Select(Path.GetFileName).OfType<string>()
            .Order(StringComparer.Ordinal).ToArray();
        if (classes.Length == 0) throw new InputException(directory, "no class sub-folders (expected DIR/CLASS/IMAGE)");

        var files = new List<(string Path, int Label)>();
        for (int label = 0; label < classes.Length; label++)
            foreach (string file in Directory.GetFiles(Path.Combine(directory, classes[label])).Order(StringComparer.Ordinal))
                if (Extensions.Contains(Path.GetExtension(file))) files.Add((file, label));
        if (files.Count == 0) throw new InputException(directory, "no images in the class folders");

        int width = 0, height = 0;
        float[]? pixels = null;
        var labels = new long[files.Count];
        for (int i = 0; i < files.Count; i++)
        {
            ImageResult image = Decode(files[i].Path);
            if (pixels is null)
            {
                (width, height) = (image.Width, image.Height);
                long total = (long)files.Count * 3 * width * height;
                if (total > Array.MaxLength) throw new InputException(directory, $"{files.Count} images of {width} x {height} exceed one array");
                pixels = new float[total];
            }
            else if (image.Width != width || image.Height != height)
            {
                throw new InputException(files[i].Path,
                    $"image is {image.Width} x {image.Height}, but the first image ({files[0].Path}) is {width} x {height}");
            }
            // Interleaved RGB to planar NCHW.
            int plane = width * height;
            long offset = (long)i * 3 * plane;
            for (int p = 0; p < plane; p++)
                for (int c = 0; c < 3; c++)
                    pixels[offset + c * plane + p] = image.Data[p * 3 + c] / 255f;
            labels[i] = files[i].Label;
        }
        return new LabelledImages(pixels!, labels, files.Count, 3, height, width, classes);
    }

    static ImageResult Decode(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        try
        {
            return ImageResult.FromMemory(bytes, ColorComponents.RedGreenBlue);
        }
        // The decoder is third-party code fed untrusted bytes: whatever it throws means "not a decodable image".
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InputException(path, $"cannot decode the image ({e.Message})", e);
        }
    }
}
