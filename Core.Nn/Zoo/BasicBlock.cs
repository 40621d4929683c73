namespace Hybrid.Core.Nn.Zoo;

/// <summary>torchvision's <c>BasicBlock</c>: conv3x3 (stride) - bn - relu - conv3x3 - bn, plus the input (through
/// <c>downsample</c> when the shape changes), then relu. Children in torchvision's order: conv1, bn1, relu, conv2, bn2,
/// downsample.</summary>
public sealed class BasicBlock : Module
{
    readonly Conv2d conv1, conv2;
    readonly BatchNorm2d bn1, bn2;
    readonly ReLU relu;
    readonly Sequential? downsample;

    public BasicBlock(int inPlanes, int planes, int stride, Sequential? downsample, Generator generator)
    {
        conv1 = RegisterModule("conv1", new Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false, generator: generator));
        bn1 = RegisterModule("bn1", new BatchNorm2d(planes));
        relu = RegisterModule("relu", new ReLU(inplace: true));
        conv2 = RegisterModule("conv2", new Conv2d(planes, planes, 3, padding: 1, bias: false, generator: generator));
        bn2 = RegisterModule("bn2", new BatchNorm2d(planes));
        if (downsample is not null) this.downsample = RegisterModule("downsample", downsample);
    }

    public override Tensor Forward(Tensor input)
    {
        var x = relu.Call(bn1.Call(conv1.Call(input)));
        x = bn2.Call(conv2.Call(x));
        return relu.Call(Functional.Add(x, downsample?.Call(input) ?? input));
    }
}
