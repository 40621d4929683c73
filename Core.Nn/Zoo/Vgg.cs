namespace Hybrid.Core.Nn.Zoo;

/// <summary>VGG with batch norm in two forms that share <c>make_layers</c> and the weight initialisation:
/// <list type="bullet">
/// <item>torchvision 0.14 (<c>torchvision/models/vgg.py</c>): <c>features</c>, <c>avgpool</c> (7x7),
/// <c>classifier</c> = Linear(25088, 4096), ReLU, Dropout, Linear(4096, 4096), ReLU, Dropout, Linear(4096, classes).</item>
/// <item>CIFAR, as chenyaofo/pytorch-cifar-models (<c>pytorch_cifar_models/vgg.py</c>, <c>cifar10_vgg16_bn</c> and
/// siblings): the same <c>features</c> on 32x32 inputs (1x1 after five pools), no avgpool, <c>classifier</c> =
/// Linear(512, 512), ReLU, Dropout, Linear(512, 512), ReLU, Dropout, Linear(512, classes).</item>
/// </list>
/// <c>features</c> is a Sequential of conv3x3 (with bias) - BatchNorm2d - ReLU triples and MaxPool2d(2, 2), numbered as
/// in PyTorch (<c>features.0.weight</c>, <c>features.1.running_mean</c>, ...). Initialisation as both sources: Kaiming-normal
/// fan-out convolutions with zero bias, batch norms at 1 and 0, linear weights N(0, 0.01^2) with zero bias.</summary>
public sealed class Vgg : Module
{
    // torchvision's cfgs "A", "B", "D", "E"; 0 stands for "M" (max pooling).
    static readonly Dictionary<int, int[]> Configs = new()
    {
        [11] = [64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
        [13] = [64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0],
        [16] = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0],
        [19] = [64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0],
    };

    readonly Sequential features, classifier;
    readonly AdaptiveAvgPool2d? avgpool;

    /// <summary>The VGG-<paramref name="depth"/>-BN of torchvision (ImageNet, 224x224 inputs).</summary>
    public static Vgg Torchvision(int depth, int numClasses = 1000, int inChannels = 3, Generator? generator = null) =>
        new(depth, cifar: false, numClasses, inChannels, generator);

    /// <summary>The VGG-<paramref name="depth"/>-BN for 32x32 CIFAR images of chenyaofo/pytorch-cifar-models.</summary>
    public static Vgg Cifar(int depth, int numClasses = 10, int inChannels = 3, Generator? generator = null) =>
        new(depth, cifar: true, numClasses, inChannels, generator);

    Vgg(int depth, bool cifar, int numClasses, int inChannels, Generator? generator)
    {
        if (!Configs.TryGetValue(depth, out var config))
            throw new ArgumentException($"VGG comes in depths 11, 13, 16 and 19, not {depth}", nameof(depth));
        Shapes.Positive(numClasses, "numClasses", nameof(numClasses));
        Shapes.Positive(inChannels, "inChannels", nameof(inChannels));
        var g = generator ?? Init.Default;
        features = RegisterModule("features", MakeLayers(config, inChannels, g));
        int width = cifar ? 512 : 4096;
        if (!cifar) avgpool = RegisterModule("avgpool", new AdaptiveAvgPool2d(7));
        classifier = RegisterModule("classifier", new Sequential(
            new Linear(cifar ? 512 : 512 * 7 * 7, width, generator: g),
            new ReLU(inplace: true),
            new Dropout(0.5, generator: new Generator((long)g.NextBits())),
            new Linear(width, width, generator: g),
            new ReLU(inplace: true),
            new Dropout(0.5, generator: new Generator((long)g.NextBits())),
            new Linear(width, numClasses, generator: g)));
        WeightInit.Convolutions(this, g, FanMode.FanOut, zeroBias: true);
        WeightInit.BatchNorms(this);
        WeightInit.Linears(this, g, std: 0.01);
    }

    public override string TypeName => "VGG";

    public override Tensor Forward(Tensor input)
    {
        var x = features.Call(input);
        if (avgpool is not null) x = avgpool.Call(x);
        return classifier.Call(Functional.Flatten(x, 1));
    }

    /// <summary>torchvision's <c>make_layers(cfg, batch_norm=True)</c>.</summary>
    static Sequential MakeLayers(int[] config, int inChannels, Generator generator)
    {
        var layers = new Sequential();
        foreach (var v in config)
        {
            if (v == 0)
            {
                layers.Append(new MaxPool2d(2, stride: 2));
                continue;
            }
            layers.Append(new Conv2d(inChannels, v, 3, padding: 1, generator: generator));
            layers.Append(new BatchNorm2d(v));
            layers.Append(new ReLU(inplace: true));
            inChannels = v;
        }
        return layers;
    }
}
