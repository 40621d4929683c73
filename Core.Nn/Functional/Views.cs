namespace Hybrid.Core.Nn;

public static partial class Functional
{
    /// <summary>The same elements in a new shape (one entry may be -1).</summary>
    public static Tensor Reshape(Tensor input, params int[] shape) => throw new NotImplementedException("Reshape");

    /// <summary>torch.flatten: dimensions startDim..endDim merged into one.</summary>
    public static Tensor Flatten(Tensor input, int startDim = 0, int endDim = -1) => throw new NotImplementedException("Flatten");

    /// <summary>Dimensions reordered: output dimension i is input dimension dims[i].</summary>
    public static Tensor Permute(Tensor input, params int[] dims) => throw new NotImplementedException("Permute");

    /// <summary>Two dimensions swapped.</summary>
    public static Tensor Transpose(Tensor input, int dim0, int dim1) => throw new NotImplementedException("Transpose");

    /// <summary>A size-1 dimension inserted at <paramref name="dim"/>.</summary>
    public static Tensor Unsqueeze(Tensor input, int dim) => throw new NotImplementedException("Unsqueeze");

    /// <summary>The size-1 dimension <paramref name="dim"/> removed.</summary>
    public static Tensor Squeeze(Tensor input, int dim) => throw new NotImplementedException("Squeeze");

    /// <summary>input[..., start:end:step, ...] along <paramref name="dim"/> with Python's rules (negative indices count
    /// from the end, bounds clamp); step > 0.</summary>
    public static Tensor Slice(Tensor input, int dim, int start, int end, int step = 1) => throw new NotImplementedException("Slice");

    /// <summary>torch.cat along <paramref name="dim"/>; other dimensions must agree.</summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim = 0) => throw new NotImplementedException("Cat");

    /// <summary>F.pad in constant mode: <paramref name="pad"/> holds (before, after) pairs starting from the last dimension;
    /// negative amounts crop.</summary>
    public static Tensor Pad(Tensor input, int[] pad, double value = 0) => throw new NotImplementedException("Pad");
}
