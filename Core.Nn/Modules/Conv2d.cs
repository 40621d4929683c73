namespace Hybrid.Core.Nn.Modules;

/// <summary>PyTorch's <c>nn.Conv2d</c>: state <c>weight</c> (out, in / groups, kH, kW) and <c>bias</c> (out) or none.</summary>
public class Conv2d : Module
{
    /// <summary>A convolution initialised as PyTorch's <c>reset_parameters</c> does, drawing from
    /// <paramref name="generator"/> (or <see cref="Init.Default"/>).</summary>
    public Conv2d(int inChannels, int outChannels, Size2 kernelSize, Size2? stride = null, Size2? padding = null,
        Size2? dilation = null, int groups = 1, bool bias = true, Generator? generator = null)
    {
        if (inChannels <= 0 || outChannels <= 0 || groups <= 0 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException(
                $"Conv2d: in_channels {inChannels} and out_channels {outChannels} must be positive multiples of groups {groups}", nameof(groups));
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = Shapes.Positive(kernelSize, "kernel_size", nameof(kernelSize));
        Stride = Shapes.Positive(stride ?? 1, "stride", nameof(stride));
        Padding = Shapes.NonNegative(padding ?? 0, "padding", nameof(padding));
        Dilation = Shapes.Positive(dilation ?? 1, "dilation", nameof(dilation));
        Groups = groups;
        RegisterParameter("weight", Tensor.Zeros(outChannels, inChannels / groups, KernelSize.H, KernelSize.W));
        RegisterParameter("bias", bias ? Tensor.Zeros(outChannels) : null);
        ResetParameters(generator ?? Init.Default);
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public Size2 KernelSize { get; }
    public Size2 Stride { get; }
    public Size2 Padding { get; }
    public Size2 Dilation { get; }
    public int Groups { get; }

    /// <summary>The current weight tensor (looked up each time: <see cref="Module.To(Gpu.Device)"/> and
    /// <see cref="Module.To(ScalarType)"/> replace parameter objects).</summary>
    public Tensor Weight => Parameter("weight")!;

    /// <summary>The bias, or null for a convolution built with <c>bias: false</c>.</summary>
    public Tensor? Bias => Parameter("bias");

    /// <summary>Kaiming-uniform weight with a = sqrt(5) and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) bias, as PyTorch.</summary>
    public void ResetParameters(Generator generator)
    {
        Init.KaimingUniform(Weight, generator, a: Math.Sqrt(5));
        if (Bias is { } b) Init.FanInUniform(b, Weight, generator);
    }

    public override Tensor Forward(Tensor input) =>
        Functional.Conv2d(input, Weight, Bias, Stride, Padding, Dilation, Groups);

    /// <summary>PyTorch's repr, e.g. <c>Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)</c>.</summary>
    public override string ToString()
    {
        var text = $"{TypeName}({InChannels}, {OutChannels}, kernel_size={Shapes.Tuple(KernelSize)}, stride={Shapes.Tuple(Stride)}";
        if (Padding != new Size2(0, 0)) text += $", padding={Shapes.Tuple(Padding)}";
        if (Dilation != new Size2(1, 1)) text += $", dilation={Shapes.Tuple(Dilation)}";
        if (Groups != 1) text += $", groups={Groups}";
        if (Bias is null) text += ", bias=False";
        return text + ")";
    }
}
