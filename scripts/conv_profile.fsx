// Conv2d forward and backward of one layer on the Cpu device at batch 64, the fastest of 8 runs in process CPU time and in
// wall time: on a shared, loaded machine CPU time moves far less than wall time. Run it under perf for a per-kernel profile:
//   DOTNET_EnableWriteXorExecute=0 DOTNET_PerfMapEnabled=1 perf record -g dotnet fsi scripts/conv_profile.fsx 512 512 4
// Arguments: input channels, output channels, image side (3x3 kernel, stride 1, padding 1).
#load "load.fsx"

open System
open System.Diagnostics
open Hybrid.Core.Gpu

let args = fsi.CommandLineArgs |> Array.skip 1 |> Array.map int
let cin, cout, size = args.[0], args.[1], args.[2]
let device = Device.Cpu
let random = Random 1
let upload n = device.Upload<float32>(ReadOnlySpan(Array.init n (fun _ -> float32 (random.NextDouble() - 0.5))))
let s = Conv2dShape.Square(64, cin, size, cout, 3, 1, 1)
let x, w, b, g = upload s.InputLength, upload s.WeightLength, upload cout, upload s.OutputLength
let parameters = LayerParameters(w, Bias = b)
let grads =
    LayerGradients(
        Input = device.Allocate<float32> s.InputLength,
        Weight = device.Allocate<float32> s.WeightLength,
        Bias = device.Allocate<float32> cout
    )
let y = device.Allocate<float32> s.OutputLength
let proc = Process.GetCurrentProcess()

/// The fastest CPU seconds and the fastest wall seconds of 8 runs after one warm-up.
let measure (f: unit -> unit) =
    f ()
    [ for _ in 1..8 ->
          proc.Refresh()
          let cpu = proc.TotalProcessorTime.TotalSeconds
          let clock = Stopwatch.StartNew()
          f ()
          let wall = clock.Elapsed.TotalSeconds
          proc.Refresh()
          proc.TotalProcessorTime.TotalSeconds - cpu, wall ]
    |> fun runs -> List.min (List.map fst runs), List.min (List.map snd runs)

let forwardCpu, forwardWall = measure (fun () -> Conv2d.Forward(s, parameters, x, y))
let backwardCpu, backwardWall = measure (fun () -> Conv2d.Backward(s, parameters, x, g, grads))
printfn
    "%d-%d %dx%d batch 64: forward %.1f ms CPU (%.1f ms wall), backward %.1f ms CPU (%.1f ms wall)"
    cin
    cout
    size
    size
    (forwardCpu * 1e3)
    (forwardWall * 1e3)
    (backwardCpu * 1e3)
    (backwardWall * 1e3)
