using System.Numerics;

namespace Hybrid.Core.Nn;

/// <summary>Batch normalisation over (N, C, S) storage (S = the product of the spatial sizes, 1 for rank 2): every
/// kernel runs one fused loop per channel, channels spread across cores, reading channel c as N contiguous runs of S
/// elements at (n C + c) S. Statistics accumulate in double, as PyTorch's CPU kernels do.</summary>
internal sealed class BatchNormKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    readonly T[] x;
    readonly int batch, channels, spatial;
    // Per channel: the mean and 1/sqrt(var + eps) that normalised the input (batch statistics in training, running
    // statistics in evaluation), kept for the backward pass.
    readonly double[] mean, invStd;
    readonly T[]? weight;

    BatchNormKernel(T[] x, int[] shape, T[]? weight)
    {
        this.x = x;
        batch = shape[0];
        channels = shape[1];
        spatial = x.Length / Math.Max(1, batch * channels);
        this.weight = weight;
        mean = new double[channels];
        invStd = new double[channels];
    }

    int Count => batch * spatial;

    Span<T> Run(T[] data, int n, int c) => data.AsSpan((n * channels + c) * spatial, spatial);

    double Weight(int c) => weight is null ? 1 : double.CreateTruncating(weight[c]);

    void ForChannels(Action<int> body) =>
        Elementwise.For(channels, Count, (first, count) =>
        {
            for (int c = first; c < first + count; c++) body(c);
        });

    /// <summary>Normalises with batch statistics (biased variance) and, when running statistics are given, updates them
    /// in place as PyTorch does: running = (1 - momentum) running + momentum batch, with the unbiased variance.</summary>
    public static (T[] Output, BatchNormKernel<T> Saved) Train(T[] x, int[] shape, T[]? weight, T[]? bias,
        T[]? runningMean, T[]? runningVar, double momentum, double eps)
    {
        var k = new BatchNormKernel<T>(x, shape, weight);
        var y = TensorAccess.Fresh<T>(x.Length);
        k.ForChannels(c =>
        {
            double sum = 0;
            for (int n = 0; n < k.batch; n++) sum += Moments.Sum<T>(k.Run(x, n, c));
            double mu = sum / k.Count;
            double squares = 0;
            for (int n = 0; n < k.batch; n++) squares += Moments.SumSquaredDeviations<T>(k.Run(x, n, c), T.CreateTruncating(mu));
            double variance = squares / k.Count;
            k.mean[c] = mu;
            k.invStd[c] = 1 / Math.Sqrt(variance + eps);
            k.Normalise(y, bias, c);
            if (runningMean is not null)
                runningMean[c] = T.CreateTruncating(momentum * mu + (1 - momentum) * double.CreateTruncating(runningMean[c]));
            if (runningVar is not null)
                runningVar[c] = T.CreateTruncating(momentum * (squares / (k.Count - 1)) + (1 - momentum) * double.CreateTruncating(runningVar[c]));
        });
        return (y, k);
    }

    /// <summary>Normalises with the running statistics.</summary>
    public static (T[] Output, BatchNormKernel<T> Saved) Eval(T[] x, int[] shape, T[]? weight, T[]? bias,
        T[] runningMean, T[] runningVar, double eps)
    {
        var k = new BatchNormKernel<T>(x, shape, weight);
        var y = TensorAccess.Fresh<T>(x.Length);
        k.ForChannels(c =>
        {
            k.mean[c] = double.CreateTruncating(runningMean[c]);
            k.invStd[c] = 1 / Math.Sqrt(double.CreateTruncating(runningVar[c]) + eps);
            k.Normalise(y, bias, c);
        });
        return (y, k);
    }

    /// <summary>y = x alpha + beta with alpha = w invstd and beta = b - mean alpha (PyTorch's transform).</summary>
    void Normalise(T[] y, T[]? bias, int c)
    {
        double alpha = Weight(c) * invStd[c];
        double beta = (bias is null ? 0 : double.CreateTruncating(bias[c])) - mean[c] * alpha;
        T a = T.CreateTruncating(alpha), b = T.CreateTruncating(beta);
        for (int n = 0; n < batch; n++) Elementwise.Affine<T>(Run(x, n, c), a, b, Run(y, n, c));
    }

    /// <summary>Gradients of input (null unless <paramref name="needInput"/>), weight and bias (per channel sums).
    /// In training the batch statistics depend on the input, which adds the two mean terms of PyTorch's formula
    /// dx = (g - mean(g) - (x - mean) invstd^2 mean(g (x - mean))) invstd w; in evaluation dx = g invstd w.</summary>
    public (T[]? Input, T[] Weight, T[] Bias) Backward(T[] g, bool training, bool needInput)
    {
        T[]? gx = needInput ? TensorAccess.Fresh<T>(x.Length) : null;
        T[] gw = new T[channels], gb = new T[channels];
        ForChannels(c =>
        {
            T mu = T.CreateTruncating(mean[c]);
            double sumG = 0, dot = 0;
            for (int n = 0; n < batch; n++)
            {
                var gs = Run(g, n, c);
                sumG += Moments.Sum<T>(gs);
                dot += Moments.DotCentered<T>(gs, Run(x, n, c), mu);
            }
            gw[c] = T.CreateTruncating(dot * invStd[c]);
            gb[c] = T.CreateTruncating(sumG);
            if (gx is null) return;
            double scale = invStd[c] * Weight(c);
            double b = 0, offset = 0;
            if (training)
            {
                b = -dot * invStd[c] * invStd[c] / Count * scale;
                offset = -sumG / Count * scale;
            }
            T ta = T.CreateTruncating(scale), tb = T.CreateTruncating(b), tc = T.CreateTruncating(offset);
            for (int n = 0; n < batch; n++) Moments.Combine<T>(Run(g, n, c), Run(x, n, c), mu, ta, tb, tc, Run(gx, n, c));
        });
        return (gx, gw, gb);
    }
}
