namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>y = x W^T + b for a sparse batch x (<see cref="SparseRows"/>, Rows x in) and a dense float32 (out, in)
    /// weight: F.linear on the densified batch, but touching only x's nonzeros, forward and backward. The weight's
    /// gradient is x^T dY, computed row of W by row of W from the nonzeros alone (the rest of it is zero), and the
    /// bias's is dY summed over the batch; the input, being data, gets none. Runs on the host, where tensors keep their
    /// storage, whatever the weight's device; each output and gradient element is summed by one thread in a fixed order,
    /// so the result does not depend on the number of cores (Core.Gpu's Ranges splits the work).</summary>
    public static Tensor SparseLinear(SparseRows input, Tensor weight, Tensor? bias = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Dtype != ScalarType.Float32 || weight.Dim != 2 || weight.ShapeRef[1] != input.Columns)
            throw new ArgumentException(
                $"SparseLinear: sparse input of {input.Columns} columns and weight {LayerOp.Describe(weight)}: the weight must be float32 (out, {input.Columns})");
        int rows = input.Rows, inFeatures = input.Columns, outFeatures = weight.ShapeRef[0];
        if (bias is not null && (bias.Dtype != ScalarType.Float32 || bias.Dim != 1 || bias.ShapeRef[0] != outFeatures))
            throw new ArgumentException($"SparseLinear: bias {LayerOp.Describe(bias)} must be float32 ({outFeatures})");
        var w = weight.F32;
        var b = bias?.F32;
        var y = new float[rows * outFeatures];
        long perRow = (long)outFeatures * Math.Max(1, input.Values.Length / Math.Max(1, rows));
        Gpu.Ranges.ByWork(rows, perRow, (first, count) =>
        {
            for (int r = first; r < first + count; r++)
            {
                int start = input.RowStart[r], end = input.RowStart[r + 1];
                for (int o = 0; o < outFeatures; o++)
                {
                    int row = o * inFeatures;
                    float sum = 0f;
                    for (int j = start; j < end; j++)
                        sum += input.Values[j] * w[row + input.Indices[j]];
                    y[r * outFeatures + o] = b is null ? sum : sum + b[o];
                }
            }
        });
        var output = Tensor.Wrap(y, [rows, outFeatures], weight.Device);
        Tensor[] parameters = bias is null ? [weight] : [weight, bias];
        return Autograd.Record(output, "SparseLinear", g =>
        {
            var gw = weight.RequiresGrad ? SparseWeightGradient(input, g.F32, outFeatures, weight.Device) : null;
            if (bias is null) return new Tensor?[] { gw };
            return new Tensor?[] { gw, bias.RequiresGrad ? BiasGradient(g.F32, rows, outFeatures, bias.Device) : null };
        }, parameters);
    }

    /// <summary>dW = dY^T x over x's nonzeros: one output row of W per task, so no two tasks write one element.</summary>
    static Tensor SparseWeightGradient(SparseRows input, float[] dy, int outFeatures, Gpu.Device device)
    {
        int rows = input.Rows, inFeatures = input.Columns;
        var gw = new float[outFeatures * inFeatures];
        Gpu.Ranges.ByWork(outFeatures, Math.Max(1, input.Values.Length), (first, count) =>
        {
            for (int o = first; o < first + count; o++)
            {
                int row = o * inFeatures;
                for (int r = 0; r < rows; r++)
                {
                    // ReLU zeroes most of dY: those rows add nothing.
                    float d = dy[r * outFeatures + o];
                    if (d == 0f) continue;
                    for (int j = input.RowStart[r]; j < input.RowStart[r + 1]; j++)
                        gw[row + input.Indices[j]] += d * input.Values[j];
                }
            }
        });
        return Tensor.Wrap(gw, [outFeatures, inFeatures], device);
    }

    static Tensor BiasGradient(float[] dy, int rows, int outFeatures, Gpu.Device device)
    {
        var gb = new float[outFeatures];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outFeatures; o++)
                gb[o] += dy[r * outFeatures + o];
        return Tensor.Wrap(gb, [outFeatures], device);
    }
}
