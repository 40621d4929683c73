using System.Numerics;
using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>A direct grouped, strided, padded and dilated convolution in plain loops: the float64 path, written like
/// Core.Gpu's Reference backend but generic in the element type.</summary>
internal sealed class ConvLoops(Conv2dShape s) : IPlainLayer
{
    public void Forward<T>(T[] x, T[] weight, T[]? bias, T[] y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = s.OutHeight, ow = s.OutWidth;
        for (int n = 0; n < s.Batch; n++)
        for (int o = 0; o < s.OutChannels; o++)
        {
            int firstChannel = o / s.OutChannelsPerGroup * s.InChannelsPerGroup;
            for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++)
            {
                var sum = bias is null ? T.Zero : bias[o];
                for (int c = 0; c < s.InChannelsPerGroup; c++)
                for (int kh = 0; kh < s.KernelH; kh++)
                {
                    int h = i * s.StrideH - s.PadH + kh * s.DilationH;
                    if ((uint)h >= (uint)s.Height) continue;
                    for (int kw = 0; kw < s.KernelW; kw++)
                    {
                        int w = j * s.StrideW - s.PadW + kw * s.DilationW;
                        if ((uint)w >= (uint)s.Width) continue;
                        sum += x[Input(n, firstChannel + c, h, w)] * weight[Weight(o, c, kh, kw)];
                    }
                }
                y[((n * s.OutChannels + o) * oh + i) * ow + j] = sum;
            }
        }
    }

    public void Backward<T>(T[] x, T[] weight, T[] gradOut, T[]? gradInput, T[]? gradWeight, T[]? gradBias)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = s.OutHeight, ow = s.OutWidth;
        for (int n = 0; n < s.Batch; n++)
        for (int o = 0; o < s.OutChannels; o++)
        {
            int firstChannel = o / s.OutChannelsPerGroup * s.InChannelsPerGroup;
            for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++)
            {
                var g = gradOut[((n * s.OutChannels + o) * oh + i) * ow + j];
                if (gradBias is not null) gradBias[o] += g;
                for (int c = 0; c < s.InChannelsPerGroup; c++)
                for (int kh = 0; kh < s.KernelH; kh++)
                {
                    int h = i * s.StrideH - s.PadH + kh * s.DilationH;
                    if ((uint)h >= (uint)s.Height) continue;
                    for (int kw = 0; kw < s.KernelW; kw++)
                    {
                        int w = j * s.StrideW - s.PadW + kw * s.DilationW;
                        if ((uint)w >= (uint)s.Width) continue;
                        int xi = Input(n, firstChannel + c, h, w), wi = Weight(o, c, kh, kw);
                        if (gradInput is not null) gradInput[xi] += g * weight[wi];
                        if (gradWeight is not null) gradWeight[wi] += g * x[xi];
                    }
                }
            }
        }
    }

    int Input(int n, int c, int h, int w) => ((n * s.InChannels + c) * s.Height + h) * s.Width + w;

    int Weight(int o, int c, int kh, int kw) => ((o * s.InChannelsPerGroup + c) * s.KernelH + kh) * s.KernelW + kw;
}
