namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>The same elements in a new shape (one entry may be -1). Like PyTorch's view, the result shares the storage.</summary>
    public static Tensor Reshape(Tensor input, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(shape);
        int[] target;
        try { target = ShapeOps.Infer(shape, input.Numel, input.ShapeRef); }
        catch (ArgumentException e) { throw new ArgumentException($"Reshape: {e.Message}"); }
        return SharedView("Reshape", input, target, ("shape", target.Clone()));
    }

    /// <summary>torch.flatten: dimensions startDim..endDim merged into one (a rank-0 tensor becomes a 1-element vector).</summary>
    public static Tensor Flatten(Tensor input, int startDim = 0, int endDim = -1)
    {
        ArgumentNullException.ThrowIfNull(input);
        var s = input.ShapeRef;
        if (s.Length == 0) return SharedView("Flatten", input, [1], ("start_dim", 0), ("end_dim", 0));
        int start = Axis("Flatten", input, startDim), end = Axis("Flatten", input, endDim);
        if (start > end)
            throw new ArgumentException($"Flatten: start dimension {startDim} comes after end dimension {endDim} for input {LayerOp.Describe(input)}");
        int[] target = [.. s[..start], ShapeOps.Numel(s.AsSpan(start, end - start + 1)), .. s[(end + 1)..]];
        return SharedView("Flatten", input, target, ("start_dim", start), ("end_dim", end));
    }

    /// <summary>A size-1 dimension inserted at <paramref name="dim"/> (in [-(rank + 1), rank]).</summary>
    public static Tensor Unsqueeze(Tensor input, int dim)
    {
        ArgumentNullException.ThrowIfNull(input);
        var s = input.ShapeRef;
        int axis = dim < 0 ? dim + s.Length + 1 : dim;
        if (axis < 0 || axis > s.Length)
            throw new ArgumentException($"Unsqueeze: dimension {dim} is out of range for input {LayerOp.Describe(input)}");
        return SharedView("Unsqueeze", input, [.. s[..axis], 1, .. s[axis..]], ("dim", axis));
    }

    /// <summary>The size-1 dimension <paramref name="dim"/> removed; a dimension of another size stays, as in PyTorch.</summary>
    public static Tensor Squeeze(Tensor input, int dim)
    {
        ArgumentNullException.ThrowIfNull(input);
        var s = input.ShapeRef;
        if (s.Length == 0) return SharedView("Squeeze", input, [], ("dim", 0));
        int axis = Axis("Squeeze", input, dim);
        int[] target = s[axis] == 1 ? [.. s[..axis], .. s[(axis + 1)..]] : s;
        return SharedView("Squeeze", input, target, ("dim", axis));
    }

    /// <summary>Dimensions reordered: output dimension i is input dimension dims[i].</summary>
    public static Tensor Permute(Tensor input, params int[] dims)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(dims);
        var perm = Permutation("Permute", input, dims);
        return PermuteCopy("Permute", input, perm, ("dims", perm.Clone()));
    }

    /// <summary>Two dimensions swapped.</summary>
    public static Tensor Transpose(Tensor input, int dim0, int dim1)
    {
        ArgumentNullException.ThrowIfNull(input);
        int a = Axis("Transpose", input, dim0), b = Axis("Transpose", input, dim1);
        var perm = Enumerable.Range(0, input.Dim).ToArray();
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return PermuteCopy("Transpose", input, perm, ("dim0", a), ("dim1", b), ("dims", perm.Clone()));
    }

    /// <summary>A tensor over the same storage in another shape of as many elements; the gradient is reshaped back.</summary>
    static Tensor SharedView(string op, Tensor input, int[] shape, params (string, object)[] attributes)
    {
        var output = new Tensor(input.Storage, shape, input.Device);
        Trace.Record(op, output, [input], attributes);
        var inShape = input.ShapeRef;
        return Autograd.Record(output, op, g => [new Tensor(g.Storage, (int[])inShape.Clone(), g.Device)], input);
    }

    static Tensor PermuteCopy(string op, Tensor input, int[] perm, params (string, object)[] attributes)
    {
        var output = Permuted(input, perm);
        Trace.Record(op, output, [input], attributes);
        var inverse = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
        return Autograd.Record(output, op, g => [Permuted(g, inverse)], input);
    }

    /// <summary>A contiguous copy whose dimension i is dimension perm[i] of <paramref name="input"/>.</summary>
    static Tensor Permuted(Tensor input, int[] perm)
    {
        var s = input.ShapeRef;
        var strides = ShapeOps.Strides(s);
        var shape = perm.Select(p => s[p]).ToArray();
        var output = Tensor.Zeros(input.Dtype, input.Device, shape);
        StridedCopy.Run(input.Storage, 0, perm.Select(p => strides[p]).ToArray(), output.Storage, 0, ShapeOps.Strides(shape), shape);
        return output;
    }

    static int[] Permutation(string op, Tensor input, int[] dims)
    {
        var perm = new int[dims.Length];
        var seen = new bool[dims.Length];
        bool valid = dims.Length == input.Dim;
        for (int i = 0; valid && i < dims.Length; i++)
        {
            int d = dims[i] < 0 ? dims[i] + dims.Length : dims[i];
            valid = d >= 0 && d < dims.Length && !seen[d];
            if (valid) (perm[i], seen[d]) = (d, true);
        }
        if (!valid)
            throw new ArgumentException($"{op}: dims {ShapeOps.Format(dims)} are not a permutation of the dimensions of input {LayerOp.Describe(input)}");
        return perm;
    }

    /// <summary>A dimension in [0, rank) from PyTorch's convention, with the op and the shape in the error.</summary>
    static int Axis(string op, Tensor input, int dim)
    {
        int rank = input.Dim, axis = dim < 0 ? dim + rank : dim;
        if (axis < 0 || axis >= rank)
            throw new ArgumentException($"{op}: dimension {dim} is out of range for input {LayerOp.Describe(input)}");
        return axis;
    }
}
