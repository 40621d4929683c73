/// Tensors between the stacks: Core.Nn tensors and Core.Gpu arrays to and from TorchSharp's `torch.Tensor`.
/// Towards TorchSharp a host array is shared, not copied (libtorch pins it and frees the pin when its tensor dies), so
/// writes on either side are seen by the other; back from TorchSharp the elements are copied once, because a Core.Nn
/// tensor owns a managed array and libtorch's memory is native.
module Hybrid.TorchInterop.Tensors

open System
open TorchSharp
open Hybrid.Core.Gpu
open Hybrid.Core.Nn

type TorchTensor = torch.Tensor

/// A TorchSharp module from tensor to tensor, as every layer and network of the zoo is.
type TorchModule = torch.nn.Module<TorchTensor, TorchTensor>

let private torchType (dtype: ScalarType) =
    match dtype with
    | ScalarType.Float32 -> torch.ScalarType.Float32
    | ScalarType.Float64 -> torch.ScalarType.Float64
    | _ -> torch.ScalarType.Int64

let private shareArray (data: Array) (dtype: torch.ScalarType) (shape: int[]) =
    use flat = torch.frombuffer (data, dtype)
    flat.view (shape |> Array.map int64)

/// A torch.Tensor over the same memory as the Core.Nn tensor (no copy; same shape and dtype, on the CPU). Gradients and
/// the autograd graph do not cross: the result is a leaf.
let toTorch (t: Tensor) : TorchTensor = shareArray t.Storage (torchType t.Dtype) t.ShapeRef

/// A Core.Nn tensor holding a copy of a torch.Tensor's elements (float32, float64 or int64; any strides), on `device`.
let ofTorchOn (device: Device) (t: TorchTensor) : Tensor =
    let shape = t.shape |> Array.map int
    use c = t.detach().cpu().contiguous()

    match t.dtype with
    | torch.ScalarType.Float32 -> Tensor.Wrap(c.data<float32>().ToArray(), shape, device)
    | torch.ScalarType.Float64 -> Tensor.Wrap(c.data<float>().ToArray(), shape, device)
    | torch.ScalarType.Int64 -> Tensor.Wrap(c.data<int64>().ToArray(), shape, device)
    | other ->
        raise (
            InputException("torch tensor", $"element type {other} has no Core.Nn counterpart (float32, float64, int64)")
        )

/// `ofTorchOn` on the cpu device.
let ofTorch (t: TorchTensor) = ofTorchOn Device.Cpu t

/// A torch.Tensor of `shape` over a Core.Gpu array: shared when the array lives in host memory (Reference and Cpu
/// devices), a copy of its elements otherwise (the ILGPU device's memory is not libtorch's).
let arrayToTorch<'T when 'T: unmanaged and 'T: (new: unit -> 'T) and 'T: struct and 'T :> ValueType>
    (array: DeviceArray<'T>)
    (shape: int[])
    : TorchTensor =
    let data: 'T[] = if array.Device.IsHost then HostArray<'T>.Of array else array.ToArray()

    shareArray data (torchType (ScalarTypes.Of<'T>())) shape

/// A Core.Gpu array on `device` holding a copy of a torch.Tensor's elements (row-major).
let torchToArray<'T when 'T: unmanaged and 'T: (new: unit -> 'T) and 'T: struct and 'T :> ValueType>
    (device: Device)
    (t: TorchTensor)
    : DeviceArray<'T> =
    use c = t.detach().cpu().contiguous()
    device.Upload<'T>(ReadOnlySpan(c.data<'T>().ToArray()))
