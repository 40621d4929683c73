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
        var w = weight.F32;
        var b = bias?.F32;
        // Scratch and output come from StoragePool: fresh large arrays cost a page fault per 4 KB on every step.
        var y = TensorAccess.Fresh<float>(rows * outFeatures);
        BySlab(outFeatures, inFeatures, input.Values.Length, (o0, width, scratch) =>
            SparseRowProducts.Forward(input, w, b, y, outFeatures, o0, width, scratch));
        var output = TensorAccess.Own(y, [rows, outFeatures], weight.Device);
        Tensor[] parameters = bias is null ? [weight] : [weight, bias];
        return Autograd.Record(output, "SparseLinear", g =>
        {
            var gw = weight.RequiresGrad ? SparseWeightGradient(input, g.F32, outFeatures, weight.Device) : null;
            if (bias is null) return new Tensor?[] { gw };
            return new Tensor?[] { gw, bias.RequiresGrad ? BiasGradient(g.F32, rows, outFeatures, bias.Device) : null };
        }, parameters);
    }

    /// <summary>dW = dY^T x over x's nonzeros: row o of dW sums x[r, k] dY[r, o] over the rows that hold column k
    /// (<see cref="SparseRowProducts.WeightGradient"/>), a slab of output rows per task, so no two write one element.</summary>
    static Tensor SparseWeightGradient(SparseRows input, float[] dy, int outFeatures, Gpu.Device device)
    {
        var columns = SparseRowProducts.ByColumn(input);
        var gw = TensorAccess.Fresh<float>(outFeatures * input.Columns);
        BySlab(outFeatures, input.Columns, input.Values.Length, (o0, width, scratch) =>
            SparseRowProducts.WeightGradient(columns, dy, outFeatures, o0, width, scratch, gw));
        return TensorAccess.Own(gw, [outFeatures, input.Columns], device);
    }

    /// <summary>Calls <paramref name="slab"/>(o0, width, scratch) for the slabs of <see cref="SparseRowProducts.Slab"/>
    /// output columns, split over the cores by their work (a transpose of in x 64 floats and 64 multiply-adds per
    /// nonzero), each task with its own pooled scratch of in x 64 floats.</summary>
    static void BySlab(int outFeatures, int inFeatures, int nonzeros, Action<int, int, float[]> slab)
    {
        const int width = SparseRowProducts.Slab;
        int slabs = (outFeatures + width - 1) / width;
        Gpu.Ranges.ByWork(slabs, (long)width * (inFeatures + nonzeros), (first, count) =>
        {
            var scratch = StoragePool.Rent(inFeatures * width);
            for (int s = first; s < first + count; s++)
                slab(s * width, Math.Min(width, outFeatures - s * width), scratch);
            StoragePool.Return(scratch);
        });
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
