namespace Hybrid.Core.Nn.Formats.Onnx.Runtime;

/// <summary>
/// Layout work on the host for any element type: int64 shape tensors (which <see cref="Functional"/> does not take), and
/// the few float forms Functional has no op for (slices with negative steps, gathers, broadcasts). Every result is a
/// new contiguous tensor on the source's device.
/// </summary>
internal static class HostOps
{
    /// <summary>out[i0, .., ik] = src[offset + sum ij * strides[j]]: permutes, slices and broadcasts are all this walk.</summary>
    public static Tensor Strided(Tensor src, int offset, int[] shape, int[] strides) => src.Storage switch
    {
        float[] f => Make(Strided(f, offset, shape, strides), shape, src),
        long[] l => Make(Strided(l, offset, shape, strides), shape, src),
        double[] d => Make(Strided(d, offset, shape, strides), shape, src),
        _ => throw new InvalidOperationException(),
    };

    static T[] Strided<T>(T[] src, int offset, int[] shape, int[] strides)
    {
        var result = new T[ShapeOps.Numel(shape)];
        if (result.Length == 0) return result;
        int rank = shape.Length;
        var index = new int[rank];
        int source = offset;
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = src[source];
            // Odometer increment: bump the last index, carrying into earlier ones.
            for (int d = rank - 1; d >= 0; d--)
            {
                source += strides[d];
                if (++index[d] < shape[d]) break;
                source -= strides[d] * shape[d];
                index[d] = 0;
            }
        }
        return result;
    }

    /// <summary>Output dimension i is input dimension perm[i].</summary>
    public static Tensor Permute(Tensor t, int[] perm)
    {
        var strides = ShapeOps.Strides(t.ShapeRef);
        return Strided(t, 0, perm.Select(p => t.ShapeRef[p]).ToArray(), perm.Select(p => strides[p]).ToArray());
    }

    /// <summary>Per dimension: <paramref name="counts"/>[d] elements from <paramref name="starts"/>[d] in steps of
    /// <paramref name="steps"/>[d] (negative steps walk backwards); the caller has clamped the bounds.</summary>
    public static Tensor Slice(Tensor t, int[] starts, int[] steps, int[] counts)
    {
        var strides = ShapeOps.Strides(t.ShapeRef);
        int offset = 0;
        var walk = new int[strides.Length];
        for (int d = 0; d < strides.Length; d++)
        {
            if (counts[d] > 0) offset += starts[d] * strides[d];
            walk[d] = steps[d] * strides[d];
        }
        return Strided(t, offset, counts, walk);
    }

    /// <summary>NumPy broadcast of <paramref name="t"/> to <paramref name="shape"/> (ONNX Expand: the result has the
    /// broadcast of both shapes).</summary>
    public static Tensor Expand(Tensor t, int[] shape)
    {
        var target = ShapeOps.Broadcast(t.ShapeRef, shape);
        return Strided(t, 0, target, ShapeOps.BroadcastStrides(t.ShapeRef, target));
    }

    /// <summary>The same elements in another shape of equal size (a copy, so values never alias).</summary>
    public static Tensor Reshape(Tensor t, int[] shape)
    {
        if (ShapeOps.Numel(shape) != t.Numel)
            throw new ArgumentException($"cannot reshape {ShapeOps.Format(t.ShapeRef)} ({t.Numel} elements) to {ShapeOps.Format(shape)}");
        return new Tensor((Array)t.Storage.Clone(), shape, t.Device);
    }

    /// <summary>Concatenation along <paramref name="axis"/>; all parts share a dtype and the other dimensions.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> parts, int axis)
    {
        var first = parts[0];
        var shape = first.Shape;
        shape[axis] = 0;
        foreach (var p in parts)
        {
            if (p.Dtype != first.Dtype || p.Dim != first.Dim)
                throw new ArgumentException($"Concat: {p.Dtype} {ShapeOps.Format(p.ShapeRef)} does not match {first.Dtype} {ShapeOps.Format(first.ShapeRef)}");
            for (int d = 0; d < shape.Length; d++)
                if (d != axis && p.ShapeRef[d] != first.ShapeRef[d])
                    throw new ArgumentException($"Concat along {axis}: shapes {ShapeOps.Format(first.ShapeRef)} and {ShapeOps.Format(p.ShapeRef)} differ elsewhere");
            shape[axis] += p.ShapeRef[axis];
        }
        int outer = ShapeOps.Numel(shape.AsSpan(0, axis));
        var result = ScalarTypes.Allocate(first.Dtype, ShapeOps.Numel(shape));
        int rowLength = result.Length / Math.Max(outer, 1), column = 0;
        foreach (var p in parts)
        {
            int block = outer == 0 ? 0 : p.Numel / outer;
            for (int o = 0; o < outer; o++)
                Array.Copy(p.Storage, o * block, result, o * rowLength + column, block);
            column += block;
        }
        return new Tensor(result, shape, first.Device);
    }

    /// <summary>ONNX Gather: data.shape[:axis] + indices.shape + data.shape[axis+1:]; negative indices count from the end.</summary>
    public static Tensor Gather(Tensor data, int axis, long[] indices, int[] indexShape)
    {
        int size = data.ShapeRef[axis];
        int outer = ShapeOps.Numel(data.ShapeRef.AsSpan(0, axis));
        int inner = ShapeOps.Numel(data.ShapeRef.AsSpan(axis + 1));
        int[] shape = [.. data.ShapeRef[..axis], .. indexShape, .. data.ShapeRef[(axis + 1)..]];
        var result = ScalarTypes.Allocate(data.Dtype, ShapeOps.Numel(shape));
        for (int k = 0; k < indices.Length; k++)
        {
            long index = indices[k] < 0 ? indices[k] + size : indices[k];
            if (index < 0 || index >= size)
                throw new ArgumentException($"Gather: index {indices[k]} is out of range for dimension {axis} of size {size}");
            for (int o = 0; o < outer; o++)
                Array.Copy(data.Storage, (o * size + index) * inner, result, ((long)o * indices.Length + k) * inner, inner);
        }
        return new Tensor(result, shape, data.Device);
    }

    /// <summary>Element-wise <paramref name="op"/> over two int64 tensors with NumPy broadcasting.</summary>
    public static Tensor Int64Binary(Tensor a, Tensor b, Func<long, long, long> op)
    {
        var shape = ShapeOps.Broadcast(a.ShapeRef, b.ShapeRef);
        var left = Expand(a, shape).I64;
        var right = Expand(b, shape).I64;
        var result = new long[left.Length];
        for (int i = 0; i < result.Length; i++) result[i] = op(left[i], right[i]);
        return new Tensor(result, shape, a.Device);
    }

    /// <summary>A 1-D int64 tensor.</summary>
    public static Tensor Int64Vector(long[] values, Gpu.Device device) => new(values, [values.Length], device);

    static Tensor Make(Array data, int[] shape, Tensor like) => new(data, (int[])shape.Clone(), like.Device);
}
