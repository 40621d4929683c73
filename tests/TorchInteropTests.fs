/// The TorchSharp adapter: libtorch loads (the build's fix of the native shim applied), tensors cross both ways.
module Hybrid.Tests.TorchInteropTests

open Expecto
open TorchSharp
open Hybrid.Core.Nn
open Hybrid.TorchInterop

/// A test that needs libtorch; where it cannot load at all, the test is skipped with the one-line reason.
let torchCase (name: string) (body: unit -> unit) =
    testCase name (fun () ->
        match Torch.available.Force() with
        | Ok() -> body ()
        | Error why -> skiptest why)

[<Tests>]
let tests =
    testList
        "torchsharp interop"
        [ torchCase "libtorch loads and an nn.Linear forward runs"
          <| fun () ->
              // Expected from the definition y = x W^T + b, evaluated in float64 here.
              use linear = torch.nn.Linear(3L, 2L)
              use x = torch.randn (4L, 3L)
              use y = linear.forward x
              let w = linear.weight.data<float32>().ToArray()
              let b = linear.bias.data<float32>().ToArray()
              let xs = x.data<float32>().ToArray()
              let expected =
                  [| for i in 0..3 do
                         for o in 0..1 ->
                             float b.[o] + Seq.sum (seq { for k in 0..2 -> float xs.[i * 3 + k] * float w.[o * 3 + k] }) |]
              closeTo64 1e-6 1e-6 "linear" expected (y.data<float32>().ToArray() |> Array.map float)

          torchCase "a Core.Nn tensor reaches TorchSharp without a copy"
          <| fun () ->
              let t = Tensor.From([| 1f; 2f; 3f; 4f; 5f; 6f |], [| 2; 3 |])
              use view = Tensors.toTorch t
              Expect.sequenceEqual (view.shape) [| 2L; 3L |] "shape"
              t.Span<float32>().[4] <- 50f
              Expect.equal (view.[1L, 1L].item<float32>()) 50f "a write on the Core.Nn side is seen by TorchSharp"
              view.[0L, 0L] <- torch.tensor (10f)
              Expect.equal (t.Span<float32>().[0]) 10f "a write on the TorchSharp side is seen by Core.Nn"

          torchCase "tensors round trip in every element type"
          <| fun () ->
              let check (t: Tensor) =
                  use tt = Tensors.toTorch t
                  let back = Tensors.ofTorch (tt.transpose(0L, 1L).transpose(0L, 1L))
                  Expect.sequenceEqual back.Shape t.Shape "shape"
                  Expect.equal back.Dtype t.Dtype "dtype"
                  Expect.sequenceEqual (back.ToDoubleArray()) (t.ToDoubleArray()) "elements"

              check (Tensor.From([| 1.5f; -2f; 3e-8f; 4f; 5f; 6f |], [| 3; 2 |]))
              check (Tensor.From([| 1.5; -2.0; 3e-300; 4.0 |], [| 2; 2 |]))
              check (Tensor.From([| 1L; -2L; 3L; 4L; 5L; 6L |], [| 1; 2; 3 |]))

          torchCase "a strided torch view comes back in row-major order"
          <| fun () ->
              use a = torch.arange(6L, dtype = torch.ScalarType.Float32).reshape(2L, 3L)
              use at = a.t ()
              let back = Tensors.ofTorch at
              Expect.sequenceEqual back.Shape [| 3; 2 |] "shape"
              Expect.sequenceEqual (back.ToArray<float32>()) [| 0f; 3f; 1f; 4f; 2f; 5f |] "elements"

          torchCase "Core.Gpu arrays cross on every backend"
          <| fun () ->
              for device in [ Hybrid.Core.Gpu.Device.Reference; Hybrid.Core.Gpu.Device.Cpu ] do
                  use a = device.Upload<float32>(System.ReadOnlySpan [| 1f; 2f; 3f; 4f |])
                  use t = Tensors.arrayToTorch a [| 2; 2 |]
                  use doubled = t * 2f
                  use back = Tensors.torchToArray<float32> device doubled
                  Expect.sequenceEqual (back.ToArray()) [| 2f; 4f; 6f; 8f |] device.Name ]
