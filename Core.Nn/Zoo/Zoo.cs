namespace Hybrid.Core.Nn.Zoo;

/// <summary>The built-in architectures by name, for the CLI's <c>--arch</c> and for scripts.</summary>
public static class Zoo
{
    // name -> (default classes, the side of the square images it is made for (0: not an image model),
    // builder(classes, in channels, input features, generator)).
    static readonly (string Name, int Classes, int ImageSize, Func<int, int, int, Generator, Module> Build)[] Entries =
    [
        .. new[] { 20, 32, 44, 56, 110 }.Select(d =>
            ($"cifar-resnet{d}", 10, 32, (Func<int, int, int, Generator, Module>)((k, c, _, g) => new CifarResNet(d, k, c, g)))),
        // Cheap, and so before the VGGs: Networks.loadModule's fit search builds the zoo in this order until a state loads.
        ("mlp-mixer-cifar", 10, 32, (k, c, _, g) => MlpMixer.Cifar(k, c, g)),
        .. new[] { 11, 13, 16, 19 }.Select(d =>
            ($"cifar-vgg{d}-bn", 10, 32, (Func<int, int, int, Generator, Module>)((k, c, _, g) => Vgg.Cifar(d, k, c, g)))),
        ("resnet18", 1000, 224, (k, c, _, g) => ResNet.ResNet18(k, c, g)),
        ("resnet50", 1000, 224, (k, c, _, g) => ResNet.ResNet50(k, c, g)),
        ("vgg16-bn", 1000, 224, (k, c, _, g) => Vgg.Torchvision(16, k, c, g)),
        ("densenet121", 1000, 224, (k, c, _, g) => DenseNet.DenseNet121(k, c, g)),
        ("mobilenet-v3-small", 1000, 224, (k, c, _, g) => MobileNetV3.MobileNetV3Small(k, c, g)),
        ("small-cnn", 10, 28, (k, c, _, g) => new SmallCnn(k, c, g)),
        // Last of the image models: the fit search never builds Mixer-B/16's 60M parameters for another architecture's
        // state (the demo's small-cnn files included).
        ("mlp-mixer-b16", 1000, 224, (k, c, _, g) => MlpMixer.B16(k, c, g)),
        (DaraMlpName, 0, 0, (k, _, f, g) => new DaraMlp(f, k, g)),
    ];

    /// <summary>Every name <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = Entries.Select(e => e.Name).ToArray();

    /// <summary>The models that classify images (every one but the DARA MLP, which takes n-gram feature vectors).</summary>
    public static IReadOnlyList<string> ImageNames { get; } = Names.Where(n => n != DaraMlpName).ToArray();

    const string DaraMlpName = "dara-mlp";

    /// <summary>The side of the square images <paramref name="name"/> is made for and traced at: 32 for the CIFAR models
    /// and mlp-mixer-cifar, 224 for the ImageNet ones, 28 for small-cnn (Fashion-MNIST); 0 for dara-mlp, which takes
    /// feature vectors. The mixers take only this size; the others pool adaptively or tolerate nearby sizes.</summary>
    /// <exception cref="ArgumentException">An unknown name.</exception>
    public static int ImageSize(string name) => Entries[IndexOf(name)].ImageSize;

    static int IndexOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var index = Array.FindIndex(Entries, e => e.Name == name);
        if (index < 0)
            throw new ArgumentException($"unknown architecture '{name}'; known: {string.Join(", ", Names)}", nameof(name));
        return index;
    }

    /// <summary>A freshly initialised model. <paramref name="numClasses"/> 0 takes the architecture's default (10 for the
    /// CIFAR models, 1000 for the ImageNet ones; dara-mlp has none and needs it); <paramref name="inChannels"/> is the
    /// channel count of the input images; <paramref name="inputFeatures"/> is the input length of dara-mlp (and must
    /// stay 0 for the image models). Weights are drawn from a generator seeded with <paramref name="seed"/>.</summary>
    /// <exception cref="ArgumentException">An unknown name (the message lists the known ones) or a bad size.</exception>
    public static Module Create(string name, int numClasses = default, int inChannels = 3, long seed = 0, int inputFeatures = 0)
    {
        var (_, defaultClasses, _, build) = Entries[IndexOf(name)];
        if (numClasses < 0) throw new ArgumentException($"{name}: numClasses must be positive, not {numClasses}", nameof(numClasses));
        if (numClasses == 0 && defaultClasses == 0)
            throw new ArgumentException($"{name}: give the number of classes", nameof(numClasses));
        bool mlp = name == DaraMlpName;
        if (mlp && inputFeatures <= 0)
            throw new ArgumentException($"{name}: give the number of input features (the n-gram vocabulary size), not {inputFeatures}", nameof(inputFeatures));
        if (!mlp && inputFeatures != 0)
            throw new ArgumentException($"{name} takes images; inputFeatures applies to dara-mlp only", nameof(inputFeatures));
        return build(numClasses == 0 ? defaultClasses : numClasses, inChannels, inputFeatures, new Generator(seed));
    }
}
