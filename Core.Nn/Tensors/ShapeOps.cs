namespace Hybrid.Core.Nn;

/// <summary>Shape arithmetic shared by every op: element counts, row-major strides, negative axes and NumPy broadcasting.</summary>
public static class ShapeOps
{
    /// <summary>The product of the sizes (1 for a scalar); throws when it overflows an int, the limit of one storage array.</summary>
    public static int Numel(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (var s in shape)
        {
            if (s < 0) throw new ArgumentException($"negative size {s} in shape {Format(shape)}");
            n *= s;
            if (n > Array.MaxLength) throw new ArgumentException($"shape {Format(shape)} has more than {Array.MaxLength} elements");
        }
        return (int)n;
    }

    /// <summary>"[2, 3, 4]".</summary>
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>Row-major strides in elements.</summary>
    public static int[] Strides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        int stride = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= shape[i];
        }
        return strides;
    }

    /// <summary>A dimension index in [0, rank) from PyTorch's convention where -1 is the last dimension.</summary>
    public static int Axis(int dim, int rank)
    {
        int axis = dim < 0 ? dim + rank : dim;
        if (axis < 0 || axis >= rank) throw new ArgumentException($"dimension {dim} is out of range for a tensor of rank {rank}");
        return axis;
    }

    /// <summary>The broadcast shape of <paramref name="a"/> and <paramref name="b"/> (NumPy rules: align trailing
    /// dimensions; sizes must be equal or 1).</summary>
    public static int[] Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"shapes {Format(a)} and {Format(b)} cannot be broadcast together");
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    /// <summary>Strides that read <paramref name="shape"/> as if it had <paramref name="target"/>'s shape: 0 on broadcast dimensions.</summary>
    public static int[] BroadcastStrides(ReadOnlySpan<int> shape, ReadOnlySpan<int> target)
    {
        var own = Strides(shape);
        var result = new int[target.Length];
        int offset = target.Length - shape.Length;
        for (int i = offset; i < target.Length; i++)
            result[i] = shape[i - offset] == 1 ? 0 : own[i - offset];
        return result;
    }

    /// <summary>True when the two shapes are equal.</summary>
    public static bool Equal(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    /// <summary>Resolves one -1 entry of a reshape target from the element count.</summary>
    public static int[] Infer(ReadOnlySpan<int> target, int numel, ReadOnlySpan<int> from)
    {
        var result = target.ToArray();
        int unknown = -1;
        long known = 1;
        for (int i = 0; i < result.Length; i++)
        {
            if (result[i] == -1)
            {
                if (unknown >= 0) throw new ArgumentException($"reshape {Format(target)}: only one dimension can be -1");
                unknown = i;
            }
            else if (result[i] < 0) throw new ArgumentException($"reshape {Format(target)}: negative size {result[i]}");
            else known *= result[i];
        }
        if (unknown >= 0)
        {
            if (known == 0 || numel % known != 0)
                throw new ArgumentException($"cannot reshape {Format(from)} ({numel} elements) to {Format(target)}");
            result[unknown] = (int)(numel / known);
        }
        else if (known != numel)
            throw new ArgumentException($"cannot reshape {Format(from)} ({numel} elements) to {Format(target)}");
        return result;
    }
}
