namespace Hybrid.Core.Nn.Zoo;

/// <summary>torchvision 0.14's MobileNetV3-Small (<c>torchvision/models/mobilenetv3.py</c>, width 1.0): <c>features</c> =
/// a Conv2dNormActivation stem, eleven InvertedResidual blocks and a 1x1 Conv2dNormActivation to 576 channels;
/// <c>avgpool</c>; <c>classifier</c> = Linear(576, 1024), Hardswish, Dropout(0.2), Linear(1024, classes). Batch norms use
/// eps 0.001 and momentum 0.01. Initialisation as torchvision: Kaiming-normal fan-out convolutions with zero bias, batch
/// norms at 1 and 0, linear weights N(0, 0.01^2) with zero bias.</summary>
public sealed class MobileNetV3 : Module
{
    // (input channels, kernel, expanded channels, output channels, squeeze-excitation, hard-swish, stride): torchvision's
    // _mobilenet_v3_conf("mobilenet_v3_small") with width 1.0, dilation 1.
    static readonly (int In, int Kernel, int Expanded, int Out, bool Se, bool HardSwish, int Stride)[] Small =
    [
        (16, 3, 16, 16, true, false, 2),
        (16, 3, 72, 24, false, false, 2),
        (24, 3, 88, 24, false, false, 1),
        (24, 5, 96, 40, true, true, 2),
        (40, 5, 240, 40, true, true, 1),
        (40, 5, 240, 40, true, true, 1),
        (40, 5, 120, 48, true, true, 1),
        (48, 5, 144, 48, true, true, 1),
        (48, 5, 288, 96, true, true, 2),
        (96, 5, 576, 96, true, true, 1),
        (96, 5, 576, 96, true, true, 1),
    ];

    readonly Sequential features, classifier;
    readonly AdaptiveAvgPool2d avgpool;

    /// <summary>MobileNetV3-Small for <paramref name="numClasses"/> classes.</summary>
    public static MobileNetV3 MobileNetV3Small(int numClasses = 1000, int inChannels = 3, Generator? generator = null)
    {
        Shapes.Positive(numClasses, "numClasses", nameof(numClasses));
        Shapes.Positive(inChannels, "inChannels", nameof(inChannels));
        return new MobileNetV3(numClasses, inChannels, generator ?? Init.Default);
    }

    MobileNetV3(int numClasses, int inChannels, Generator g)
    {
        features = RegisterModule("features", new Sequential());
        features.Append(new Conv2dNormActivation(inChannels, Small[0].In, 3, stride: 2, activation: () => new Hardswish(inplace: true), generator: g));
        foreach (var c in Small)
            features.Append(new InvertedResidual(c.In, c.Kernel, c.Expanded, c.Out, c.Se, c.HardSwish, c.Stride, g));
        int lastIn = Small[^1].Out, lastOut = 6 * lastIn;
        features.Append(new Conv2dNormActivation(lastIn, lastOut, 1, activation: () => new Hardswish(inplace: true), generator: g));
        avgpool = RegisterModule("avgpool", new AdaptiveAvgPool2d(1));
        classifier = RegisterModule("classifier", new Sequential(
            new Linear(lastOut, 1024, generator: g),
            new Hardswish(inplace: true),
            new Dropout(0.2, inplace: true, generator: new Generator((long)g.NextBits())),
            new Linear(1024, numClasses, generator: g)));
        WeightInit.Convolutions(this, g, FanMode.FanOut, zeroBias: true);
        WeightInit.BatchNorms(this);
        WeightInit.Linears(this, g, std: 0.01);
    }

    public override Tensor Forward(Tensor input) =>
        classifier.Call(Functional.Flatten(avgpool.Call(features.Call(input)), 1));

    /// <summary>torchvision's <c>_make_divisible</c>: the nearest multiple of <paramref name="divisor"/> (at least the
    /// divisor), rounded up once more when rounding lost over 10%.</summary>
    internal static int MakeDivisible(double value, int divisor = 8)
    {
        int rounded = Math.Max(divisor, (int)(value + divisor / 2.0) / divisor * divisor);
        return rounded < 0.9 * value ? rounded + divisor : rounded;
    }
}

/// <summary>torchvision's <c>Conv2dNormActivation</c> (a Sequential): "0" Conv2d without bias (padding (k - 1) / 2), "1"
/// BatchNorm2d(eps 0.001, momentum 0.01), "2" the activation when there is one.</summary>
public sealed class Conv2dNormActivation : Sequential
{
    public Conv2dNormActivation(int inChannels, int outChannels, int kernel, Generator generator, int stride = 1, int groups = 1,
        Func<Module>? activation = null)
    {
        Append(new Conv2d(inChannels, outChannels, kernel, stride: stride, padding: (kernel - 1) / 2, groups: groups, bias: false,
            generator: generator));
        Append(new BatchNorm2d(outChannels, eps: 0.001, momentum: 0.01));
        if (activation is not null) Append(activation());
    }

    public override string TypeName => "Conv2dNormActivation";
}

/// <summary>torchvision's <c>SqueezeExcitation</c>: x * hardsigmoid(fc2(relu(fc1(avgpool(x))))), the fcs being 1x1
/// convolutions with bias. Children: avgpool, fc1, fc2, activation, scale_activation.</summary>
public sealed class SqueezeExcitation : Module
{
    readonly AdaptiveAvgPool2d avgpool;
    readonly Conv2d fc1, fc2;
    readonly ReLU activation;
    readonly Hardsigmoid scaleActivation;

    public SqueezeExcitation(int inputChannels, int squeezeChannels, Generator generator)
    {
        avgpool = RegisterModule("avgpool", new AdaptiveAvgPool2d(1));
        fc1 = RegisterModule("fc1", new Conv2d(inputChannels, squeezeChannels, 1, generator: generator));
        fc2 = RegisterModule("fc2", new Conv2d(squeezeChannels, inputChannels, 1, generator: generator));
        activation = RegisterModule("activation", new ReLU());
        scaleActivation = RegisterModule("scale_activation", new Hardsigmoid());
    }

    public override Tensor Forward(Tensor input)
    {
        var scale = scaleActivation.Call(fc2.Call(activation.Call(fc1.Call(avgpool.Call(input)))));
        return Functional.Mul(scale, input);
    }
}

/// <summary>torchvision's MobileNetV3 <c>InvertedResidual</c>: <c>block</c> = expand (1x1, when the width changes),
/// depthwise k x k, squeeze-excitation (optional), project (1x1, no activation); the input is added when stride is 1 and
/// the channels agree.</summary>
public sealed class InvertedResidual : Module
{
    readonly Sequential block;
    readonly bool residual;

    public InvertedResidual(int inChannels, int kernel, int expanded, int outChannels, bool squeezeExcitation, bool hardSwish,
        int stride, Generator generator)
    {
        Func<Module> activation = hardSwish ? () => new Hardswish(inplace: true) : () => new ReLU(inplace: true);
        block = new Sequential();
        if (expanded != inChannels)
            block.Append(new Conv2dNormActivation(inChannels, expanded, 1, generator, activation: activation));
        block.Append(new Conv2dNormActivation(expanded, expanded, kernel, generator, stride: stride, groups: expanded, activation: activation));
        if (squeezeExcitation)
            block.Append(new SqueezeExcitation(expanded, MobileNetV3.MakeDivisible(expanded / 4), generator));
        block.Append(new Conv2dNormActivation(expanded, outChannels, 1, generator));
        RegisterModule("block", block);
        residual = stride == 1 && inChannels == outChannels;
    }

    /// <summary>Whether the block adds its input to its output (stride 1 and equal channel counts).</summary>
    public bool Residual => residual;

    public override Tensor Forward(Tensor input)
    {
        var x = block.Call(input);
        return residual ? Functional.Add(x, input) : x;
    }
}
