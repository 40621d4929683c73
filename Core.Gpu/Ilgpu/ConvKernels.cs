using ILGPU;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>The geometry of a convolution plus the chunk of images [First, First + Images) being processed, as the kernels
/// see it. The column matrix of a chunk has one row per (input channel, kh, kw), channels of group g forming rows
/// [g * FilterLength, (g + 1) * FilterLength), and one column per (image in chunk, output pixel).</summary>
internal readonly record struct ConvParams(
    int InChannels, int Height, int Width, int OutChannels, int KernelH, int KernelW,
    int StrideH, int StrideW, int PadH, int PadW, int DilationH, int DilationW, int Groups,
    int OutHeight, int OutWidth, int First, int Images)
{
    public static ConvParams From(in Conv2dShape s, int first, int images) =>
        new(s.InChannels, s.Height, s.Width, s.OutChannels, s.KernelH, s.KernelW, s.StrideH, s.StrideW, s.PadH, s.PadW,
            s.DilationH, s.DilationW, s.Groups, s.OutHeight, s.OutWidth, first, images);

    public int Plane => OutHeight * OutWidth;
    /// <summary>Columns of the chunk's column matrix.</summary>
    public int Columns => Images * Plane;
    public int InChannelsPerGroup => InChannels / Groups;
    public int OutChannelsPerGroup => OutChannels / Groups;
    public int FilterLength => InChannelsPerGroup * KernelH * KernelW;
}

/// <summary>The data movement around the convolution GEMMs: unfolding images into columns (im2col), folding column
/// gradients back into images (col2im), and moving outputs between NCHW and the GEMM's (channel, image * pixel) layout.</summary>
internal static class ConvKernels
{
    /// <summary>cols[(c, kh, kw), (n, oh, ow)] = x[First + n, c, oh * s - pad + kh * d, ow * s - pad + kw * d], 0 in the padding.</summary>
    public static void Im2Col(Index1D i, ArrayView<float> x, ArrayView<float> cols, ConvParams p)
    {
        int columns = p.Columns, row = i / columns, column = i - row * columns;
        int n = column / p.Plane, pixel = column - n * p.Plane;
        int oh = pixel / p.OutWidth, ow = pixel - oh * p.OutWidth;
        int kw = row % p.KernelW, kh = row / p.KernelW % p.KernelH, c = row / (p.KernelW * p.KernelH);
        int ih = oh * p.StrideH - p.PadH + kh * p.DilationH, iw = ow * p.StrideW - p.PadW + kw * p.DilationW;
        bool inside = ih >= 0 && ih < p.Height && iw >= 0 && iw < p.Width;
        cols[i] = inside ? x[(((p.First + n) * p.InChannels + c) * p.Height + ih) * p.Width + iw] : 0f;
    }

    /// <summary>Gradient of <see cref="Im2Col"/> in gather form: each input element of the chunk sums the column entries it
    /// was copied to, so no two threads write one address and no atomics are needed.</summary>
    public static void Col2Im(Index1D i, ArrayView<float> cols, ArrayView<float> gradInput, ConvParams p)
    {
        int iw = i % p.Width, ih = i / p.Width % p.Height, c = i / (p.Width * p.Height) % p.InChannels;
        int n = i / (p.Width * p.Height * p.InChannels);
        int columns = p.Columns;
        float sum = 0f;
        for (int kh = 0; kh < p.KernelH; kh++)
        {
            int th = ih + p.PadH - kh * p.DilationH;
            if (th < 0 || th % p.StrideH != 0 || th / p.StrideH >= p.OutHeight) continue;
            int oh = th / p.StrideH;
            for (int kw = 0; kw < p.KernelW; kw++)
            {
                int tw = iw + p.PadW - kw * p.DilationW;
                if (tw < 0 || tw % p.StrideW != 0 || tw / p.StrideW >= p.OutWidth) continue;
                int row = (c * p.KernelH + kh) * p.KernelW + kw;
                sum += cols[row * columns + n * p.Plane + oh * p.OutWidth + tw / p.StrideW];
            }
        }
        gradInput[p.First * p.InChannels * p.Height * p.Width + i] = sum;
    }

    /// <summary>y[First + n, o, pixel] = product[o, (n, pixel)] + bias[o] (bias read only when <paramref name="hasBias"/> is set).</summary>
    public static void Scatter(Index1D i, ArrayView<float> product, ArrayView<float> bias, int hasBias, ArrayView<float> y, ConvParams p)
    {
        int pixel = i % p.Plane, o = i / p.Plane % p.OutChannels, n = i / (p.Plane * p.OutChannels);
        float value = product[o * p.Columns + n * p.Plane + pixel];
        y[p.First * p.OutChannels * p.Plane + i] = hasBias != 0 ? value + bias[o] : value;
    }

    /// <summary>The inverse move of <see cref="Scatter"/> for the output gradient: matrix[o, (n, pixel)] = gradOut[First + n, o, pixel].</summary>
    public static void Gather(Index1D i, ArrayView<float> gradOut, ArrayView<float> matrix, ConvParams p)
    {
        int pixel = i % p.Plane, o = i / p.Plane % p.OutChannels, n = i / (p.Plane * p.OutChannels);
        matrix[o * p.Columns + n * p.Plane + pixel] = gradOut[p.First * p.OutChannels * p.Plane + i];
    }
}
