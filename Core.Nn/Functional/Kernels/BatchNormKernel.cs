using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>Batch normalisation over (N, C, S) storage (S = the product of the spatial sizes, 1 for rank 2): every pass
/// walks the N C rows of S elements in storage order across cores, keeping per-row partial sums that are then added per
/// channel in image order, so the results equal a channel-at-a-time loop's bit for bit. Statistics accumulate in double,
/// as PyTorch's CPU kernels do.</summary>
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

    int Rows => batch * channels;

    Span<T> Row(T[] data, int r) => data.AsSpan(r * spatial, spatial);

    double Weight(int c) => weight is null ? 1 : double.CreateTruncating(weight[c]);

    /// <summary>Runs <paramref name="body"/> on every (n, c) row in storage order, rows spread across cores: walking memory
    /// front to back keeps the hardware prefetchers streaming, where a channel at a time hops N times per channel.</summary>
    void ForRows(Action<int> body) =>
        Ranges.ByWork(Rows, spatial, (first, count) =>
        {
            for (int r = first; r < first + count; r++) body(r);
        });

    /// <summary>Channel c's total of per-row values, added in image order (the order a channel-at-a-time loop adds them).</summary>
    double ChannelTotal(double[] perRow, int c)
    {
        double total = 0;
        for (int n = 0; n < batch; n++) total += perRow[n * channels + c];
        return total;
    }

    /// <summary>Normalises with batch statistics (biased variance) and, when running statistics are given, updates them
    /// in place as PyTorch does: running = (1 - momentum) running + momentum batch, with the unbiased variance.</summary>
    public static (T[] Output, BatchNormKernel<T> Saved) Train(T[] x, int[] shape, T[]? weight, T[]? bias,
        T[]? runningMean, T[]? runningVar, double momentum, double eps, bool relu = false)
    {
        var k = new BatchNormKernel<T>(x, shape, weight);
        var sums = new double[k.Rows];
        k.ForRows(r => sums[r] = Moments.Sum<T>(k.Row(x, r)));
        for (int c = 0; c < k.channels; c++) k.mean[c] = k.ChannelTotal(sums, c) / k.Count;
        k.ForRows(r => sums[r] = Moments.SumSquaredDeviations<T>(k.Row(x, r), T.CreateTruncating(k.mean[r % k.channels])));
        for (int c = 0; c < k.channels; c++)
        {
            double squares = k.ChannelTotal(sums, c), mu = k.mean[c];
            k.invStd[c] = 1 / Math.Sqrt(squares / k.Count + eps);
            if (runningMean is not null)
                runningMean[c] = T.CreateTruncating(momentum * mu + (1 - momentum) * double.CreateTruncating(runningMean[c]));
            if (runningVar is not null)
                runningVar[c] = T.CreateTruncating(momentum * (squares / (k.Count - 1)) + (1 - momentum) * double.CreateTruncating(runningVar[c]));
        }
        return (k.Normalise(bias, relu), k);
    }

    /// <summary>Normalises with the running statistics.</summary>
    public static (T[] Output, BatchNormKernel<T> Saved) Eval(T[] x, int[] shape, T[]? weight, T[]? bias,
        T[] runningMean, T[] runningVar, double eps, bool relu = false)
    {
        var k = new BatchNormKernel<T>(x, shape, weight);
        for (int c = 0; c < k.channels; c++)
        {
            k.mean[c] = double.CreateTruncating(runningMean[c]);
            k.invStd[c] = 1 / Math.Sqrt(double.CreateTruncating(runningVar[c]) + eps);
        }
        return (k.Normalise(bias, relu), k);
    }

    /// <summary>y = x alpha + beta with alpha = w invstd and beta = b - mean alpha (PyTorch's transform), then max(y, 0)
    /// when <paramref name="relu"/>, on each row while it is still in L1.</summary>
    T[] Normalise(T[]? bias, bool relu)
    {
        var (alpha, beta) = (new T[channels], new T[channels]);
        for (int c = 0; c < channels; c++)
        {
            double a = Weight(c) * invStd[c];
            alpha[c] = T.CreateTruncating(a);
            beta[c] = T.CreateTruncating((bias is null ? 0 : double.CreateTruncating(bias[c])) - mean[c] * a);
        }
        var y = TensorAccess.Fresh<T>(x.Length);
        ForRows(r =>
        {
            var row = Row(y, r);
            SimdMap.Affine<T>(Row(x, r), alpha[r % channels], beta[r % channels], row);
            if (relu) SimdMap.Map<T, ReluOp>(row, row);
        });
        return y;
    }

    /// <summary>The backward of a frozen norm in evaluation mode (SeaM's mask training: weight and bias need no gradient):
    /// dx = g invstd w, zero where the fused ReLU's output is not positive, in one pass over the gradient, where
    /// <see cref="Backward"/> makes three (the ReLU mask, the per-channel sums, the combination) and reads the input twice.
    /// It holds the per-channel scales only, not the input, which is then free once normalised. Equal to Backward's input
    /// gradient bit for bit.</summary>
    public FrozenGradient Frozen()
    {
        var scale = new T[channels];
        for (int c = 0; c < channels; c++) scale[c] = T.CreateTruncating(invStd[c] * Weight(c));
        return new FrozenGradient(scale, Rows, spatial);
    }

    /// <summary>See <see cref="Frozen"/>.</summary>
    internal sealed class FrozenGradient(T[] scale, int rows, int spatial)
    {
        /// <summary>dL/dx from dL/dy, gated by the fused ReLU's output when given.</summary>
        public T[] Input(T[] g, T[]? reluOutput)
        {
            var gx = TensorAccess.Fresh<T>(g.Length);
            Ranges.ByWork(rows, spatial, (first, count) =>
            {
                for (int r = first; r < first + count; r++)
                    Moments.ScaleGated<T>(g.AsSpan(r * spatial, spatial),
                        reluOutput is null ? default : reluOutput.AsSpan(r * spatial, spatial), scale[r % scale.Length],
                        gx.AsSpan(r * spatial, spatial));
            });
            return gx;
        }
    }

    /// <summary>Gradients of input (null unless <paramref name="needInput"/>), weight and bias (per channel sums).
    /// In training the batch statistics depend on the input, which adds the two mean terms of PyTorch's formula
    /// dx = (g - mean(g) - (x - mean) invstd^2 mean(g (x - mean))) invstd w; in evaluation dx = g invstd w.</summary>
    public (T[]? Input, T[] Weight, T[] Bias) Backward(T[] g, bool training, bool needInput)
    {
        T[]? gx = needInput ? TensorAccess.Fresh<T>(x.Length) : null;
        T[] gw = new T[channels], gb = new T[channels];
        double[] sums = new double[Rows], dots = new double[Rows];
        ForRows(r =>
        {
            var gs = Row(g, r);
            sums[r] = Moments.Sum<T>(gs);
            dots[r] = Moments.DotCentered<T>(gs, Row(x, r), T.CreateTruncating(mean[r % channels]));
        });
        var (ta, tb, tc) = (new T[channels], new T[channels], new T[channels]);
        for (int c = 0; c < channels; c++)
        {
            double sumG = ChannelTotal(sums, c), dot = ChannelTotal(dots, c);
            gw[c] = T.CreateTruncating(dot * invStd[c]);
            gb[c] = T.CreateTruncating(sumG);
            double scale = invStd[c] * Weight(c);
            double b = 0, offset = 0;
            if (training)
            {
                b = -dot * invStd[c] * invStd[c] / Count * scale;
                offset = -sumG / Count * scale;
            }
            (ta[c], tb[c], tc[c]) = (T.CreateTruncating(scale), T.CreateTruncating(b), T.CreateTruncating(offset));
        }
        if (gx is not null)
            ForRows(r =>
            {
                int c = r % channels;
                Moments.Combine<T>(Row(g, r), Row(x, r), T.CreateTruncating(mean[c]), ta[c], tb[c], tc[c], Row(gx, r));
            });
        return (gx, gw, gb);
    }
}
