namespace Hybrid.Core.Nn.Modules;

/// <summary>A <see cref="Conv2d"/> that starts masked (SeaM's masked layer built directly): the effective weight is
/// weight * 1[weight_mask > 0] (and bias * 1[bias_mask > 0]); state keys <c>weight</c>, <c>bias</c>,
/// <c>weight_mask</c>, <c>bias_mask</c>; the masks start at <see cref="MaskedLinear.InitialScore"/>, so every weight is
/// kept until training lowers its score below zero. Any Conv2d can be masked in place with
/// <see cref="MaskableLayer.EnableMask"/>.</summary>
public sealed class MaskedConv2d : Conv2d
{
    public MaskedConv2d(int inChannels, int outChannels, Size2 kernelSize, Size2? stride = null, Size2? padding = null,
        Size2? dilation = null, int groups = 1, bool bias = true, Generator? generator = null)
        : base(inChannels, outChannels, kernelSize, stride, padding, dilation, groups, bias, generator) => EnableMask();

    /// <summary>A masked copy of <paramref name="conv"/>: same hyper-parameters, its weight and bias values, masks all kept.</summary>
    public static MaskedConv2d From(Conv2d conv)
    {
        ArgumentNullException.ThrowIfNull(conv);
        var masked = new MaskedConv2d(conv.InChannels, conv.OutChannels, conv.KernelSize, conv.Stride, conv.Padding, conv.Dilation,
            conv.Groups, conv.Bias is not null, new Generator(0));
        MaskScores.CopyValues(masked.Weight, masked.Bias, conv.Weight, conv.Bias);
        return masked;
    }
}
