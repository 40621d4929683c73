namespace Hybrid.Core.Nn.Zoo;

/// <summary>A small convolutional classifier that trains in seconds on two cores (the demo's model): two conv3x3 -
/// BatchNorm - ReLU - MaxPool(2) stages of 16 and 32 channels, a conv3x3 - BatchNorm - ReLU stage of 64, a global average
/// pool (so any input size works and the graph exports to ONNX) and Linear(64, classes). State keys
/// <c>features.{0,1,4,5,8,9}.*</c> and <c>classifier.*</c>, as the same network written with <c>nn.Sequential</c> in
/// PyTorch would have; initialisation is PyTorch's default.</summary>
public sealed class SmallCnn : Module
{
    readonly Sequential features;
    readonly AdaptiveAvgPool2d pool;
    readonly Linear classifier;

    public SmallCnn(int numClasses = 10, int inChannels = 1, Generator? generator = null)
    {
        var g = generator ?? Init.Default;
        features = RegisterModule("features", new Sequential(
            new Conv2d(inChannels, 16, 3, padding: 1, bias: false, generator: g),
            new BatchNorm2d(16),
            new ReLU(),
            new MaxPool2d(2),
            new Conv2d(16, 32, 3, padding: 1, bias: false, generator: g),
            new BatchNorm2d(32),
            new ReLU(),
            new MaxPool2d(2),
            new Conv2d(32, 64, 3, padding: 1, bias: false, generator: g),
            new BatchNorm2d(64),
            new ReLU()));
        pool = RegisterModule("pool", new AdaptiveAvgPool2d(1));
        classifier = RegisterModule("classifier", new Linear(64, numClasses, generator: g));
    }

    public override Tensor Forward(Tensor input) =>
        classifier.Call(Functional.Flatten(pool.Call(features.Call(input)), 1));
}
