using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>Layer normalisation of rows of <c>width</c> contiguous elements (the trailing normalised dimensions), rows
/// spread across cores; per row mean and 1/sqrt(var + eps) are kept for the backward pass.</summary>
internal sealed class LayerNormKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    readonly T[] x;
    readonly int width;
    readonly double[] mean, invStd;
    readonly T[]? weight;

    LayerNormKernel(T[] x, int width, T[]? weight)
    {
        this.x = x;
        this.width = width;
        this.weight = weight;
        int rows = width == 0 ? 0 : x.Length / width;
        mean = new double[rows];
        invStd = new double[rows];
    }

    int Rows => mean.Length;

    Span<T> Row(T[] data, int r) => data.AsSpan(r * width, width);

    public static (T[] Output, LayerNormKernel<T> Saved) Forward(T[] x, int width, T[]? weight, T[]? bias, double eps)
    {
        var k = new LayerNormKernel<T>(x, width, weight);
        var y = TensorAccess.Fresh<T>(x.Length);
        Ranges.ByWork(k.Rows, width, (first, count) =>
        {
            for (int r = first; r < first + count; r++)
            {
                var row = k.Row(x, r);
                double mu = Moments.Sum<T>(row) / width;
                double rstd = 1 / Math.Sqrt(Moments.SumSquaredDeviations<T>(row, T.CreateTruncating(mu)) / width + eps);
                k.mean[r] = mu;
                k.invStd[r] = rstd;
                var target = k.Row(y, r);
                SimdMap.Affine<T>(row, T.CreateTruncating(rstd), T.CreateTruncating(-mu * rstd), target);
                if (weight is not null) TensorPrimitives.Multiply(target, weight, target);
                if (bias is not null) TensorPrimitives.Add(target, bias, target);
            }
        });
        return (y, k);
    }

    /// <summary>Gradients of input (dx = invstd (g' - mean(g') - xhat mean(g' xhat)) with g' = g w), weight
    /// (sum over rows of g xhat) and bias (sum over rows of g); each parallel piece of rows sums its own weight and bias
    /// partials, added in row order afterwards so results do not depend on scheduling.</summary>
    public (T[]? Input, T[]? Weight, T[]? Bias) Backward(T[] g, bool needInput, bool needWeight, bool needBias)
    {
        T[]? gx = needInput ? TensorAccess.Fresh<T>(x.Length) : null;
        var partials = new System.Collections.Concurrent.ConcurrentBag<(int First, T[] Weight, T[] Bias)>();
        Ranges.ByWork(Rows, width, (first, count) =>
        {
            var scaled = new T[width];
            var xhat = new T[width];
            T[] pw = new T[needWeight ? width : 0], pb = new T[needBias ? width : 0];
            for (int r = first; r < first + count; r++)
            {
                var gs = Row(g, r);
                var xs = Row(x, r);
                T mu = T.CreateTruncating(mean[r]), rstd = T.CreateTruncating(invStd[r]);
                if (needWeight || needBias)
                {
                    SimdMap.Affine<T>(xs, rstd, -mu * rstd, xhat);
                    if (needWeight) TensorPrimitives.MultiplyAdd(gs, xhat, pw, pw);
                    if (needBias) TensorPrimitives.Add(pb, gs, pb);
                }
                if (gx is null) continue;
                ReadOnlySpan<T> gPrime = gs;
                if (weight is not null)
                {
                    TensorPrimitives.Multiply(gs, weight, scaled);
                    gPrime = scaled;
                }
                double sum = Moments.Sum(gPrime), dot = Moments.DotCentered(gPrime, xs, mu);
                double s = invStd[r];
                T b = T.CreateTruncating(-dot * s * s * s / width), c = T.CreateTruncating(-sum * s / width);
                Moments.Combine(gPrime, xs, mu, rstd, b, c, Row(gx, r));
            }
            partials.Add((first, pw, pb));
        });
        T[]? gw = needWeight ? new T[width] : null, gb = needBias ? new T[width] : null;
        foreach (var (_, pw, pb) in partials.OrderBy(p => p.First))
        {
            if (gw is not null) TensorPrimitives.Add(gw, pw, gw);
            if (gb is not null) TensorPrimitives.Add(gb, pb, gb);
        }
        return (gx, gw, gb);
    }
}
