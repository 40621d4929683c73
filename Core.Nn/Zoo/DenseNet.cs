namespace Hybrid.Core.Nn.Zoo;

/// <summary>torchvision 0.14's DenseNet (<c>torchvision/models/densenet.py</c>): <c>features</c> = conv0 7x7/2, norm0,
/// relu0, pool0, then denseblock1, transition1, ..., denseblock4, norm5; <c>classifier</c> Linear. Forward: features,
/// ReLU, global average pool, flatten, classifier. Initialisation as torchvision: Kaiming-normal (fan-in) convolutions,
/// batch norms at 1 and 0, zero classifier bias.</summary>
public sealed class DenseNet : Module
{
    readonly Sequential features;
    readonly Linear classifier;

    /// <summary>DenseNet-121: growth 32, blocks 6-12-24-16, 64 initial features, bottleneck 4x.</summary>
    public static DenseNet DenseNet121(int numClasses = 1000, int inChannels = 3, Generator? generator = null) =>
        new(32, [6, 12, 24, 16], 64, 4, 0, numClasses, inChannels, generator);

    public DenseNet(int growthRate, int[] blockConfig, int numInitFeatures, int bnSize, double dropRate, int numClasses = 1000,
        int inChannels = 3, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(blockConfig);
        if (blockConfig.Length == 0 || blockConfig.Any(b => b <= 0))
            throw new ArgumentException($"DenseNet blocks must be a non-empty list of positive layer counts, not {ShapeOps.Format(blockConfig)}", nameof(blockConfig));
        Shapes.Positive(growthRate, "growthRate", nameof(growthRate));
        Shapes.Positive(numInitFeatures, "numInitFeatures", nameof(numInitFeatures));
        Shapes.Positive(bnSize, "bnSize", nameof(bnSize));
        Shapes.Probability(dropRate, nameof(dropRate));
        Shapes.Positive(numClasses, "numClasses", nameof(numClasses));
        var g = generator ?? Init.Default;

        features = RegisterModule("features", new Sequential(
            ("conv0", new Conv2d(inChannels, numInitFeatures, 7, stride: 2, padding: 3, bias: false, generator: g)),
            ("norm0", new BatchNorm2d(numInitFeatures)),
            ("relu0", new ReLU(inplace: true)),
            ("pool0", new MaxPool2d(3, stride: 2, padding: 1))));
        int numFeatures = numInitFeatures;
        for (int i = 0; i < blockConfig.Length; i++)
        {
            features.Add($"denseblock{i + 1}", new DenseBlock(blockConfig[i], numFeatures, bnSize, growthRate, dropRate, g));
            numFeatures += blockConfig[i] * growthRate;
            if (i != blockConfig.Length - 1)
            {
                features.Add($"transition{i + 1}", new Transition(numFeatures, numFeatures / 2, g));
                numFeatures /= 2;
            }
        }
        features.Add("norm5", new BatchNorm2d(numFeatures));
        classifier = RegisterModule("classifier", new Linear(numFeatures, numClasses, generator: g));

        WeightInit.Convolutions(this, g, FanMode.FanIn, zeroBias: false);
        WeightInit.BatchNorms(this);
        WeightInit.LinearBiasesZero(this);
    }

    public override Tensor Forward(Tensor input)
    {
        var x = Functional.Relu(features.Call(input));
        x = Functional.AdaptiveAvgPool2d(x, 1);
        return classifier.Call(Functional.Flatten(x, 1));
    }
}

/// <summary>torchvision's <c>_DenseLayer</c>: norm1 - relu1 - conv1 (1x1, bn_size * growth) - norm2 - relu2 - conv2
/// (3x3, growth). Its input is the concatenation of the block input and every earlier layer's output.</summary>
public sealed class DenseLayer : Module
{
    readonly BatchNorm2d norm1, norm2;
    readonly ReLU relu1, relu2;
    readonly Conv2d conv1, conv2;
    readonly double dropRate;
    readonly Generator dropout;

    public DenseLayer(int numInputFeatures, int growthRate, int bnSize, double dropRate, Generator generator)
    {
        norm1 = RegisterModule("norm1", new BatchNorm2d(numInputFeatures));
        relu1 = RegisterModule("relu1", new ReLU(inplace: true));
        conv1 = RegisterModule("conv1", new Conv2d(numInputFeatures, bnSize * growthRate, 1, bias: false, generator: generator));
        norm2 = RegisterModule("norm2", new BatchNorm2d(bnSize * growthRate));
        relu2 = RegisterModule("relu2", new ReLU(inplace: true));
        conv2 = RegisterModule("conv2", new Conv2d(bnSize * growthRate, growthRate, 3, padding: 1, bias: false, generator: generator));
        this.dropRate = dropRate;
        dropout = new Generator((long)generator.NextBits());
    }

    public override string TypeName => "_DenseLayer";

    /// <summary>The dropout rate after conv2 while training (0: none, as in DenseNet-121).</summary>
    public double DropRate => dropRate;

    public override Tensor Forward(Tensor input)
    {
        var bottleneck = conv1.Call(relu1.Call(norm1.Call(input)));
        var x = conv2.Call(relu2.Call(norm2.Call(bottleneck)));
        return dropRate > 0 ? Functional.Dropout(x, dropRate, Training, dropout) : x;
    }
}

/// <summary>torchvision's <c>_DenseBlock</c> (a ModuleDict of <c>denselayer1</c>, ...): each layer sees the concatenation
/// of the block input and all earlier outputs; the block returns the concatenation of all of them.</summary>
public sealed class DenseBlock : Module
{
    readonly List<DenseLayer> layers = [];

    public DenseBlock(int numLayers, int numInputFeatures, int bnSize, int growthRate, double dropRate, Generator generator)
    {
        for (int i = 0; i < numLayers; i++)
            layers.Add(RegisterModule($"denselayer{i + 1}",
                new DenseLayer(numInputFeatures + i * growthRate, growthRate, bnSize, dropRate, generator)));
    }

    public override string TypeName => "_DenseBlock";

    public override Tensor Forward(Tensor input)
    {
        // Concatenating as we go equals torchvision's cat of the feature list before each layer.
        var features = input;
        foreach (var layer in layers) features = Functional.Cat([features, layer.Call(features)], 1);
        return features;
    }
}

/// <summary>torchvision's <c>_Transition</c> (a Sequential): norm - relu - conv (1x1) - pool (AvgPool2d 2/2).</summary>
public sealed class Transition : Sequential
{
    public Transition(int numInputFeatures, int numOutputFeatures, Generator generator)
    {
        Add("norm", new BatchNorm2d(numInputFeatures));
        Add("relu", new ReLU(inplace: true));
        Add("conv", new Conv2d(numInputFeatures, numOutputFeatures, 1, bias: false, generator: generator));
        Add("pool", new AvgPool2d(2, stride: 2));
    }

    public override string TypeName => "_Transition";
}
