namespace Hybrid.Core.Nn.Zoo;

/// <summary>torchvision's <c>Bottleneck</c> (ResNet V1.5: the stride sits on the 3x3 convolution): conv1x1 - bn - relu -
/// conv3x3 (stride) - bn - relu - conv1x1 (4x planes) - bn, plus the input, then relu. Children: conv1, bn1, conv2, bn2,
/// conv3, bn3, relu, downsample.</summary>
public sealed class Bottleneck : Module
{
    /// <summary>Output planes per input plane of the block's width.</summary>
    public const int Expansion = 4;

    readonly Conv2d conv1, conv2, conv3;
    readonly BatchNorm2d bn1, bn2, bn3;
    readonly ReLU relu;
    readonly Sequential? downsample;

    public Bottleneck(int inPlanes, int planes, int stride, Sequential? downsample, Generator generator)
    {
        conv1 = RegisterModule("conv1", new Conv2d(inPlanes, planes, 1, bias: false, generator: generator));
        bn1 = RegisterModule("bn1", new BatchNorm2d(planes));
        conv2 = RegisterModule("conv2", new Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false, generator: generator));
        bn2 = RegisterModule("bn2", new BatchNorm2d(planes));
        conv3 = RegisterModule("conv3", new Conv2d(planes, planes * Expansion, 1, bias: false, generator: generator));
        bn3 = RegisterModule("bn3", new BatchNorm2d(planes * Expansion));
        relu = RegisterModule("relu", new ReLU(inplace: true));
        if (downsample is not null) this.downsample = RegisterModule("downsample", downsample);
    }

    public override Tensor Forward(Tensor input)
    {
        var x = relu.Call(bn1.Call(conv1.Call(input)));
        x = relu.Call(bn2.Call(conv2.Call(x)));
        x = bn3.Call(conv3.Call(x));
        return relu.Call(Functional.Add(x, downsample?.Call(input) ?? input));
    }
}
