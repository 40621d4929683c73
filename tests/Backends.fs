/// The backends every kernel test runs on (STYLE.md item 1): one list, each case built once per backend present.
[<AutoOpen>]
module Hybrid.Tests.Backends

open Expecto

type Backend =
    {
        Name: string
        /// The device, created on first use; None when this machine lacks it (the tests then report themselves skipped).
        Device: Lazy<Device option>
        /// ILGPU's CPU accelerator is about a thousand times slower than native code: such backends get small shapes only.
        Slow: bool
    }

let reference = { Name = "reference"; Device = lazy Some Device.Reference; Slow = false }
let cpu = { Name = "cpu"; Device = lazy Some Device.Cpu; Slow = false }
let ilgpuCpu = { Name = "gpu (ILGPU CPU accelerator)"; Device = lazy Some(Device.Gpu(preferCuda = false)); Slow = true }
let cuda =
    { Name = "gpu (CUDA)"
      Device = lazy (if Device.CudaAvailable then Some(Device.Gpu(preferCuda = true)) else None)
      Slow = false }

/// Every backend, including the reference itself (which the PyTorch fixtures check too).
let all = [ reference; cpu; ilgpuCpu; cuda ]

/// The backends compared against the reference.
let others = [ cpu; ilgpuCpu; cuda ]

/// One test per backend; a backend missing on this machine yields a skipped test that says why.
let perBackend (backends: Backend list) (name: string) (body: Backend -> Device -> unit) =
    testList
        name
        [ for b in backends ->
              if b.Name = cuda.Name && not Device.CudaAvailable then
                  testCase b.Name (fun () -> skiptest "no CUDA device on this machine")
              else
                  testCase b.Name (fun () -> body b b.Device.Value.Value) ]

/// Uploads host data to a device.
let up (device: Device) (data: float32[]) = device.Upload<float32>(System.ReadOnlySpan data)
