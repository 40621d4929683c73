namespace Hybrid.Core.Nn;

// Slice, Cat and Pad: ops that copy rectangular regions between tensors (the views of Views.cs that reorder or keep
// the elements live there).
public static partial class Functional
{
    /// <summary>input[..., start:end:step, ...] along <paramref name="dim"/> with Python's rules (negative indices count
    /// from the end, bounds clamp); step > 0.</summary>
    public static Tensor Slice(Tensor input, int dim, int start, int end, int step = 1)
    {
        ArgumentNullException.ThrowIfNull(input);
        int axis = Axis("Slice", input, dim), size = input.ShapeRef[axis];
        if (step <= 0) throw new ArgumentException($"Slice: step must be positive, got {step} (input {LayerOp.Describe(input)})");
        int first = Math.Clamp(start < 0 ? start + size : start, 0, size);
        int stop = Math.Clamp(end < 0 ? end + size : end, 0, size);
        int count = stop > first ? (stop - first + step - 1) / step : 0;
        var shape = input.Shape;
        shape[axis] = count;
        var output = Tensor.Zeros(input.Dtype, input.Device, shape);
        var (inStrides, outStrides) = (ShapeOps.Strides(input.ShapeRef), ShapeOps.Strides(shape));
        var stepped = (int[])inStrides.Clone();
        stepped[axis] *= step;
        StridedCopy.Run(input.Storage, first * inStrides[axis], stepped, output.Storage, 0, outStrides, shape);
        Trace.Record("Slice", output, [input], ("dim", axis), ("start", first), ("end", stop), ("step", step));
        var (dtype, device, inShape) = (input.Dtype, input.Device, input.ShapeRef);
        return Autograd.Record(output, "Slice", g =>
        {
            // The input's shape only: its values are not kept alive for the backward.
            var gx = Tensor.Zeros(dtype, device, inShape);
            StridedCopy.Run(g.Storage, 0, outStrides, gx.Storage, first * inStrides[axis], stepped, shape);
            return [gx];
        }, input);
    }

    /// <summary>torch.cat along <paramref name="dim"/>; the tensors must share dtype and rank, and agree on every other dimension.</summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException("Cat: needs at least one tensor");
        var first = tensors[0];
        int axis = Axis("Cat", first, dim);
        var shape = first.Shape;
        shape[axis] = 0;
        foreach (var t in tensors)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(tensors));
            bool agree = t.Dtype == first.Dtype && t.Dim == first.Dim;
            for (int d = 0; agree && d < t.Dim; d++) agree = d == axis || t.ShapeRef[d] == first.ShapeRef[d];
            if (!agree)
                throw new ArgumentException(
                    $"Cat: along dimension {dim}, tensors {string.Join(", ", tensors.Select(LayerOp.Describe))} must share dtype, rank and every other dimension");
            shape[axis] += t.ShapeRef[axis];
        }
        var output = Tensor.Zeros(first.Dtype, first.Device, shape);
        var outStrides = ShapeOps.Strides(shape);
        var offsets = new int[tensors.Count];
        for (int i = 0, at = 0; i < tensors.Count; at += tensors[i].ShapeRef[axis], i++)
        {
            offsets[i] = at * outStrides[axis];
            StridedCopy.Run(tensors[i].Storage, 0, ShapeOps.Strides(tensors[i].ShapeRef), output.Storage, offsets[i], outStrides,
                tensors[i].ShapeRef);
        }
        var inputs = tensors.ToArray();
        Trace.Record("Cat", output, inputs, ("dim", axis));
        return Autograd.Record(output, "Cat", g => inputs.Select((t, i) =>
        {
            if (!t.RequiresGrad) return null;
            var gt = t.ZerosLike();
            StridedCopy.Run(g.Storage, offsets[i], outStrides, gt.Storage, 0, ShapeOps.Strides(t.ShapeRef), t.ShapeRef);
            return gt;
        }).ToArray(), inputs);
    }

    /// <summary>F.pad in constant mode: <paramref name="pad"/> holds (before, after) pairs starting from the last dimension;
    /// negative amounts crop.</summary>
    public static Tensor Pad(Tensor input, int[] pad, double value = 0)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(pad);
        var s = input.ShapeRef;
        if (pad.Length % 2 != 0 || pad.Length > 2 * s.Length)
            throw new ArgumentException($"Pad: {pad.Length} amounts {ShapeOps.Format(pad)} must be (before, after) pairs for at most the {s.Length} dimensions of input {LayerOp.Describe(input)}");
        var shape = input.Shape;
        var (before, box) = (new int[s.Length], input.Shape);
        for (int i = 0; i < pad.Length / 2; i++)
        {
            int d = s.Length - 1 - i;
            shape[d] = s[d] + pad[2 * i] + pad[2 * i + 1];
            if (shape[d] < 0)
                throw new ArgumentException($"Pad: padding {ShapeOps.Format(pad)} leaves a negative size for dimension {d} of input {LayerOp.Describe(input)}");
            before[d] = pad[2 * i];
            // Input index i lands at output index i + before; the indices valid on both sides form the copied box.
            box[d] = Math.Max(0, Math.Min(s[d], s[d] + pad[2 * i + 1]) - Math.Max(0, -pad[2 * i]));
        }
        var output = Tensor.Zeros(input.Dtype, input.Device, shape);
        if (value != 0) output.Fill(value);
        var (inStrides, outStrides) = (ShapeOps.Strides(s), ShapeOps.Strides(shape));
        int inOffset = 0, outOffset = 0;
        for (int d = 0; d < s.Length; d++)
        {
            if (before[d] < 0) inOffset += -before[d] * inStrides[d];
            else outOffset += before[d] * outStrides[d];
        }
        StridedCopy.Run(input.Storage, inOffset, inStrides, output.Storage, outOffset, outStrides, box);
        Trace.Record("Pad", output, [input], ("pad", pad.Clone()), ("value", value));
        var (dtype, device, inShape) = (input.Dtype, input.Device, input.ShapeRef);
        return Autograd.Record(output, "Pad", g =>
        {
            // The input's shape only: its values are not kept alive for the backward.
            var gx = Tensor.Zeros(dtype, device, inShape);
            StridedCopy.Run(g.Storage, outOffset, outStrides, gx.Storage, inOffset, inStrides, box);
            return [gx];
        }, input);
    }
}
