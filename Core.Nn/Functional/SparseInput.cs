using System.Numerics.Tensors;

namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>y = x W^T + b for a sparse batch x (<see cref="SparseRows"/>, Rows x in) and a dense float32 (out, in)
    /// weight: F.linear on the densified batch, but touching only x's nonzeros, forward and backward. The weight's
    /// gradient is dY^T x, computed from the nonzeros alone (the rest of it is zero), and the bias's is dY summed over the batch; the input, being data, gets none. Runs on the host, where tensors keep their
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
        // W^T, so that each nonzero x[r, k] adds a contiguous row W^T[k, :] to y[r, :]: one vector multiply-add.
        // Scratch and output come from StoragePool: fresh large arrays cost a page fault per 4 KB on every step.
        var wt = Gpu.Cpu.Transposition.Transpose(weight.F32, outFeatures, inFeatures, StoragePool.Rent(outFeatures * inFeatures));
        var b = bias?.F32;
        var y = TensorAccess.Fresh<float>(rows * outFeatures);
        long perRow = (long)outFeatures * Math.Max(1, input.Values.Length / Math.Max(1, rows));
        Gpu.Ranges.ByWork(rows, perRow, (first, count) => SparseRowProducts.Forward(input, wt, b, y, outFeatures, first, count));
        StoragePool.Return(TensorAccess.Own(wt, [wt.Length], weight.Device));
        var output = TensorAccess.Own(y, [rows, outFeatures], weight.Device);
        Tensor[] parameters = bias is null ? [weight] : [weight, bias];
        return Autograd.Record(output, "SparseLinear", g =>
        {
            var gw = weight.RequiresGrad ? SparseWeightGradient(input, g.F32, outFeatures, weight.Device) : null;
            if (bias is null) return new Tensor?[] { gw };
            return new Tensor?[] { gw, bias.RequiresGrad ? BiasGradient(g.F32, rows, outFeatures, bias.Device) : null };
        }, parameters);
    }

    /// <summary>dW = dY^T x over x's nonzeros: row k of dW^T sums x[r, k] dY[r, :] over the rows that hold column k
    /// (<see cref="SparseRowProducts.WeightGradientT"/>); the tasks split the columns k, so no two write one element.
    /// dW^T is then transposed.</summary>
    static Tensor SparseWeightGradient(SparseRows input, float[] dy, int outFeatures, Gpu.Device device)
    {
        int inFeatures = input.Columns;
        var columns = SparseRowProducts.ByColumn(input);
        var gwt = StoragePool.Rent(inFeatures * outFeatures);
        long perColumn = (long)outFeatures * Math.Max(1, input.Values.Length / inFeatures);
        Gpu.Ranges.ByWork(inFeatures, perColumn, (first, count) =>
            SparseRowProducts.WeightGradientT(columns, dy, outFeatures, gwt, first, count));
        var gw = Gpu.Cpu.Transposition.Transpose(gwt, inFeatures, outFeatures, TensorAccess.Fresh<float>(gwt.Length));
        StoragePool.Return(TensorAccess.Own(gwt, [gwt.Length], device));
        return TensorAccess.Own(gw, [outFeatures, inFeatures], device);
    }

    /// <summary>dY summed over the rows, each element in row order (vector adds of whole rows).</summary>
    static Tensor BiasGradient(float[] dy, int rows, int outFeatures, Gpu.Device device)
    {
        var gb = new float[outFeatures];
        for (int r = 0; r < rows; r++)
            TensorPrimitives.Add(gb, dy.AsSpan(r * outFeatures, outFeatures), gb);
        return Tensor.Wrap(gb, [outFeatures], device);
    }
}
