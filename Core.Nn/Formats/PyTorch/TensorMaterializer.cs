namespace Hybrid.Core.Nn.Formats.PyTorch;

/// <summary>
/// Turns a <see cref="TensorRef"/> and the bytes of its storage into the tensor's contiguous elements,
/// after checking that every element the shape, strides and offset can reach lies inside the storage.
/// </summary>
internal static class TensorMaterializer
{
    /// <summary>
    /// The contiguous row-major bytes of <paramref name="tensor"/>; <paramref name="storage"/> holds the
    /// root storage, of which a legacy view uses only a slice.
    /// </summary>
    public static byte[] Materialize(TensorRef tensor, byte[] storage)
    {
        var source = tensor.Storage;
        int size = source.DType.ElementSize();
        long storageElements = storage.Length / size;
        long viewOffset = source.ViewOffset;
        long viewElements = source.ViewSize ?? storageElements;
        if (viewOffset > storageElements || viewElements > storageElements - viewOffset)
            throw new PickleException($"storage view [{viewOffset}, +{viewElements}) runs past its storage of {storageElements} elements");

        long count, last;
        try
        {
            count = TensorEntry.CountElements(tensor.Shape);
            last = tensor.StorageOffset;
            for (int d = 0; d < tensor.Shape.Length; d++)
                if (tensor.Shape[d] > 0)
                    last = checked(last + (tensor.Shape[d] - 1) * tensor.Strides[d]);
            if (checked(count * size) > Array.MaxLength)
                throw new PickleException($"tensor of shape {TensorEntry.FormatShape(tensor.Shape)} is too large for one array");
        }
        catch (OverflowException)
        {
            throw new PickleException($"tensor shape {TensorEntry.FormatShape(tensor.Shape)} and strides {TensorEntry.FormatShape(tensor.Strides)} overflow");
        }
        if (count > 0 && last >= viewElements)
            throw new PickleException(
                $"tensor of shape {TensorEntry.FormatShape(tensor.Shape)}, strides {TensorEntry.FormatShape(tensor.Strides)} and offset {tensor.StorageOffset} reaches element {last} of a storage of {viewElements}");

        var input = storage.AsSpan((int)(viewOffset * size), (int)(viewElements * size));
        var output = new byte[count * size];
        if (count == 0)
            return output;
        if (IsContiguous(tensor.Shape, tensor.Strides))
        {
            input.Slice((int)(tensor.StorageOffset * size), output.Length).CopyTo(output);
            return output;
        }
        Gather(tensor, input, output, size);
        return output;
    }

    static bool IsContiguous(long[] shape, long[] strides)
    {
        long expected = 1;
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            // A dimension of length 1 may carry any stride, as in PyTorch's own contiguity test.
            if (shape[d] != 1 && strides[d] != expected)
                return false;
            expected *= shape[d];
        }
        return true;
    }

    // Walks the elements in row-major order with an odometer over the dimensions, copying one element at
    // a time: checkpoints rarely hold non-contiguous tensors, so simplicity beats speed here.
    static void Gather(TensorRef tensor, ReadOnlySpan<byte> input, Span<byte> output, int size)
    {
        int rank = tensor.Shape.Length;
        var index = new long[rank];
        long offset = tensor.StorageOffset;
        for (int written = 0; written < output.Length; written += size)
        {
            input.Slice((int)(offset * size), size).CopyTo(output.Slice(written, size));
            for (int d = rank - 1; d >= 0; d--)
            {
                offset += tensor.Strides[d];
                if (++index[d] < tensor.Shape[d])
                    break;
                offset -= index[d] * tensor.Strides[d];
                index[d] = 0;
            }
        }
    }
}
