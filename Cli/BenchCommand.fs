/// `hybrid bench gemm|conv`: our kernels against the peer a user would pick, timed in one run on this machine.
module Hybrid.Cli.BenchCommand

open Argu
open Hybrid.Bench
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private print (json: bool) (report: Report.Report) =
    if json then printfn "%s" (Report.toJson report) else Report.printTable report

let gemmReport (device: Hybrid.Core.Gpu.Device) (args: ParseResults<GemmArgs>) =
    if args.Contains GemmArgs.Quick then GemmBench.runWith GemmBench.quick device
    else
        let sizes = args.GetResult(Sizes, defaultValue = GemmBench.defaults.Sizes)
        match sizes |> List.tryFind (fun n -> n < 1 || n > 16384) with
        | Some n -> fail "bench gemm: size %d is outside 1..16384" n
        | None -> GemmBench.run device sizes

let convReport (device: Hybrid.Core.Gpu.Device) (args: ParseResults<ConvArgs>) =
    let options = if args.Contains ConvArgs.Quick then ConvBench.quick else ConvBench.defaults
    let models =
        match args.TryGetResult Model with
        | Some Resnet20 -> ConvBench.ResNet20
        | Some Vgg16 -> ConvBench.Vgg16
        | Some All -> ConvBench.All
        | None -> options.Models
    let batch = args.GetResult(Batch, defaultValue = options.Batch)
    if batch < 1 || batch > 4096 then fail "bench conv: batch %d is outside 1..4096" batch
    ConvBench.run device { options with Models = models; Batch = batch }

let run (args: ParseResults<BenchArgs>) =
    let device = device (args.GetResult(BenchArgs.Device, defaultValue = DeviceName.Auto))
    let json = args.Contains BenchArgs.Json
    if device.Kind = Hybrid.Core.Gpu.DeviceKind.Gpu && not Hybrid.Core.Gpu.Device.CudaAvailable then
        note "hybrid: note: no CUDA device, so the ILGPU kernels run on ILGPU's CPU accelerator, about a thousand times slower than native code (try gemm --sizes 64 128)"
    match args.TryGetSubCommand() with
    | Some(Gemm a) -> print json (gemmReport device a)
    | Some(Conv a) -> print json (convReport device a)
    | _ -> fail "bench: name a benchmark: gemm or conv (see hybrid bench --help)"
    0
