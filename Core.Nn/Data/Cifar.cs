namespace Hybrid.Core.Nn.Data;

/// <summary>CIFAR-10 and CIFAR-100 (Krizhevsky 2009) in their binary batch layout: 32 x 32 colour images stored as
/// fixed-size records, each the label byte(s) then 1024 red, 1024 green and 1024 blue bytes (row-major planes), which is
/// NCHW already. CIFAR-10 records have one label byte (0-9); CIFAR-100 records have a coarse (0-19) then a fine (0-99)
/// label byte.</summary>
public static class Cifar
{
    /// <summary>Which of the two record layouts a file holds.</summary>
    public enum Kind
    {
        /// <summary>1 label byte + 3072 pixel bytes per record, 10 classes.</summary>
        Cifar10,
        /// <summary>2 label bytes (coarse, fine) + 3072 pixel bytes per record, 100 fine / 20 coarse classes.</summary>
        Cifar100,
    }

    const int Side = 32, Channels = 3, PixelBytes = Channels * Side * Side;

    /// <summary>CIFAR-10 class names in label order.</summary>
    public static readonly IReadOnlyList<string> Cifar10Classes =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>CIFAR-100 fine class names in label order.</summary>
    public static readonly IReadOnlyList<string> Cifar100FineClasses =
    [
        "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
        "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
        "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
        "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
        "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
        "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
        "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
        "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
        "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
        "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
    ];

    /// <summary>CIFAR-100 coarse (superclass) names in label order.</summary>
    public static readonly IReadOnlyList<string> Cifar100CoarseClasses =
    [
        "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables", "household_electrical_devices",
        "household_furniture", "insects", "large_carnivores", "large_man-made_outdoor_things",
        "large_natural_outdoor_scenes", "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates",
        "people", "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
    ];

    /// <summary>Bytes per record of <paramref name="kind"/>.</summary>
    public static int RecordSize(Kind kind) => LabelBytes(kind) + PixelBytes;

    /// <summary>Reads a binary batch file (e.g. <c>test_batch.bin</c>, <c>data_batch_1.bin</c>, <c>train.bin</c>),
    /// pixels scaled to [0, 1]. For CIFAR-100 the labels are the fine ones unless <paramref name="coarse"/> is set, in
    /// which case they are the 20 superclasses (with <see cref="Cifar100CoarseClasses"/> as class names).</summary>
    /// <exception cref="InputException">The file is missing, empty, not a whole number of records, or holds a label
    /// out of range; the message names the file and, for a label, the record.</exception>
    public static LabelledImages Load(string path, Kind kind, bool coarse = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (kind is not (Kind.Cifar10 or Kind.Cifar100))
            throw new ArgumentException($"unknown CIFAR kind {kind}", nameof(kind));
        if (coarse && kind != Kind.Cifar100)
            throw new ArgumentException("coarse labels exist only in CIFAR-100", nameof(coarse));
        byte[] bytes = ReadAll(path);
        int record = RecordSize(kind);
        if (bytes.Length == 0)
            throw new InputException(path, "empty file");
        if (bytes.Length % record != 0)
            throw new InputException(path,
                $"{bytes.Length} bytes is not a whole number of {kind} records of {record} bytes " +
                $"({bytes.Length / record} records and {bytes.Length % record} bytes left over; truncated or the wrong kind?)");

        int count = bytes.Length / record;
        if ((long)count * PixelBytes > Array.MaxLength)
            throw new InputException(path, $"{count} images exceed the largest float array .NET can hold");
        // CIFAR-100 stores (coarse, fine); the label we keep sits at byte 0 for CIFAR-10 and coarse, byte 1 for fine.
        int labelOffset = kind == Kind.Cifar100 && !coarse ? 1 : 0;
        var classNames = kind == Kind.Cifar10 ? Cifar10Classes : coarse ? Cifar100CoarseClasses : Cifar100FineClasses;
        var labels = new long[count];
        var images = new float[(long)count * PixelBytes];
        for (int i = 0; i < count; i++)
        {
            int start = i * record;
            // Both label bytes are checked, so a CIFAR-10 file read as CIFAR-100 (or a corrupt one) is refused even
            // when the unused byte is the bad one.
            for (int b = 0; b < LabelBytes(kind); b++)
            {
                int limit = kind == Kind.Cifar10 ? Cifar10Classes.Count
                    : b == 0 ? Cifar100CoarseClasses.Count : Cifar100FineClasses.Count;
                if (bytes[start + b] >= limit)
                    throw new InputException(path,
                        $"record {i} (byte offset {start + b}) has {LabelName(kind, b)} label {bytes[start + b]}, outside 0..{limit - 1}");
            }
            labels[i] = bytes[start + labelOffset];
            var pixels = bytes.AsSpan(start + LabelBytes(kind), PixelBytes);
            var target = images.AsSpan(i * PixelBytes, PixelBytes);
            for (int p = 0; p < PixelBytes; p++) target[p] = pixels[p] / 255f;
        }
        return new LabelledImages(images, labels, count, Channels, Side, Side, classNames);
    }

    static int LabelBytes(Kind kind) => kind == Kind.Cifar10 ? 1 : 2;

    static string LabelName(Kind kind, int b) => kind == Kind.Cifar10 ? "class" : b == 0 ? "coarse" : "fine";

    static byte[] ReadAll(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InputException(path, "file not found", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new InputException(path, "permission denied", e);
        }
        catch (IOException e)
        {
            throw new InputException(path, $"cannot read ({e.Message})", e);
        }
    }
}
