namespace Hybrid.Core.Nn.Zoo;

/// <summary>torchvision 0.14's ResNet (<c>torchvision/models/resnet.py</c>): <c>conv1</c> 7x7/2, <c>bn1</c>, <c>relu</c>,
/// <c>maxpool</c> 3x3/2, <c>layer1</c>..<c>layer4</c> (64, 128, 256, 512 planes), <c>avgpool</c>, <c>fc</c>; module paths,
/// types and state keys equal torchvision's, so its checkpoints load 1:1.</summary>
public sealed class ResNet : Module
{
    readonly Conv2d conv1;
    readonly BatchNorm2d bn1;
    readonly ReLU relu;
    readonly MaxPool2d maxpool;
    readonly Sequential[] layers = new Sequential[4];
    readonly AdaptiveAvgPool2d avgpool;
    readonly Linear fc;

    /// <summary>ResNet-18 (<see cref="BasicBlock"/>, 2-2-2-2).</summary>
    public static ResNet ResNet18(int numClasses = 1000, int inChannels = 3, Generator? generator = null) =>
        new(bottleneck: false, [2, 2, 2, 2], numClasses, inChannels, generator);

    /// <summary>ResNet-50 (<see cref="Bottleneck"/>, 3-4-6-3).</summary>
    public static ResNet ResNet50(int numClasses = 1000, int inChannels = 3, Generator? generator = null) =>
        new(bottleneck: true, [3, 4, 6, 3], numClasses, inChannels, generator);

    /// <summary>A ResNet of <paramref name="blocks"/> blocks per stage, initialised as torchvision does (Kaiming-normal
    /// fan-out convolutions, batch norms at 1 and 0, PyTorch's default <c>fc</c>).</summary>
    public ResNet(bool bottleneck, int[] blocks, int numClasses = 1000, int inChannels = 3, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        if (blocks.Length != 4 || blocks.Any(b => b <= 0))
            throw new ArgumentException($"a ResNet has four stages of at least one block, not {ShapeOps.Format(blocks)}", nameof(blocks));
        Shapes.Positive(numClasses, "numClasses", nameof(numClasses));
        Shapes.Positive(inChannels, "inChannels", nameof(inChannels));
        var g = generator ?? Init.Default;
        int expansion = bottleneck ? Bottleneck.Expansion : 1;

        conv1 = RegisterModule("conv1", new Conv2d(inChannels, 64, 7, stride: 2, padding: 3, bias: false, generator: g));
        bn1 = RegisterModule("bn1", new BatchNorm2d(64));
        relu = RegisterModule("relu", new ReLU(inplace: true));
        maxpool = RegisterModule("maxpool", new MaxPool2d(3, stride: 2, padding: 1));

        int inPlanes = 64;
        for (int stage = 0; stage < 4; stage++)
        {
            int planes = 64 << stage, stride = stage == 0 ? 1 : 2;
            var layer = new Sequential();
            for (int b = 0; b < blocks[stage]; b++)
            {
                Sequential? downsample = b == 0 && (stride != 1 || inPlanes != planes * expansion)
                    ? new Sequential(
                        new Conv2d(inPlanes, planes * expansion, 1, stride: stride, bias: false, generator: g),
                        new BatchNorm2d(planes * expansion))
                    : null;
                int s = b == 0 ? stride : 1;
                layer.Append(bottleneck
                    ? new Bottleneck(inPlanes, planes, s, downsample, g)
                    : new BasicBlock(inPlanes, planes, s, downsample, g));
                inPlanes = planes * expansion;
            }
            layers[stage] = RegisterModule($"layer{stage + 1}", layer);
        }
        avgpool = RegisterModule("avgpool", new AdaptiveAvgPool2d(1));
        fc = RegisterModule("fc", new Linear(512 * expansion, numClasses, generator: g));

        WeightInit.Convolutions(this, g, FanMode.FanOut, zeroBias: false);
        WeightInit.BatchNorms(this);
    }

    public override Tensor Forward(Tensor input)
    {
        var x = maxpool.Call(relu.Call(bn1.Call(conv1.Call(input))));
        foreach (var layer in layers) x = layer.Call(x);
        return fc.Call(Functional.Flatten(avgpool.Call(x), 1));
    }
}
