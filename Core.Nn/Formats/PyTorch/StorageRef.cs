namespace Hybrid.Core.Nn.Formats.PyTorch;

// What a checkpoint's pickle says about its tensors before any bytes are read: the storage classes, the
// storages named by persistent ids, and the tensors rebuilt over them.

/// <summary>A PyTorch storage class such as <c>torch.FloatStorage</c>: a marker naming the element type.</summary>
internal sealed record StorageType(string Name, DType DType)
{
    public override string ToString() => Name;
}

/// <summary>
/// A storage named by a persistent id, before its bytes are read: the key its data is filed under, the
/// element type, the device it was saved from, and, for a legacy view, the slice of the root storage.
/// </summary>
internal sealed record StorageRef(string Key, DType DType, string Location, long ElementCount, long ViewOffset, long? ViewSize);

/// <summary>A tensor made by <c>_rebuild_tensor</c> or <c>_rebuild_tensor_v2</c>, before its storage is read.</summary>
internal sealed record TensorRef(StorageRef Storage, long StorageOffset, long[] Shape, long[] Strides);
