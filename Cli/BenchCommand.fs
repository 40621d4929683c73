/// `hybrid bench gemm|conv|gmm|cka|fuzz|resnet|extract|reengineer|anomaly`: our kernels against the peer a user would pick, timed in one run on this machine.
module Hybrid.Cli.BenchCommand

open Argu
open Hybrid.Bench
open Hybrid.Analysis.FuzzReport
open Hybrid.Cli.Args
open Hybrid.Cli.Console

module Input = Hybrid.Analysis.Input

let private print (json: bool) (report: Report.Report) =
    if json then printfn "%s" (Report.toJson report) else Report.printTable report

let gemmReport (device: Hybrid.Core.Gpu.Device) (args: ParseResults<GemmArgs>) =
    if args.Contains GemmArgs.Quick then
        GemmBench.runWith GemmBench.quick device
    else
        let sizes = args.GetResult(Sizes, defaultValue = GemmBench.defaults.Sizes)
        match sizes |> List.tryFind (fun n -> n < 1 || n > 16384) with
        | Some n -> Input.fail "bench gemm: size %d is outside 1..16384" n
        | None -> GemmBench.run device sizes

let convReport (device: Hybrid.Core.Gpu.Device) (args: ParseResults<ConvArgs>) =
    let options = if args.Contains ConvArgs.Quick then ConvBench.quick else ConvBench.defaults
    let models =
        match args.TryGetResult ConvArgs.Model with
        | Some Resnet20 -> ConvBench.ResNet20
        | Some Vgg16 -> ConvBench.Vgg16
        | Some All -> ConvBench.All
        | None -> options.Models
    let batch = args.GetResult(ConvArgs.Batch, defaultValue = options.Batch)
    if batch < 1 || batch > 4096 then
        Input.fail "bench conv: batch %d is outside 1..4096" batch
    ConvBench.run device { options with Models = models; Batch = batch }

let gmmReport (device: Hybrid.Core.Gpu.Device) (args: ParseResults<GmmBenchArgs>) =
    let options = if args.Contains GmmBenchArgs.Quick then GmmBench.quick else GmmBench.defaults
    let samples = args.GetResult(Samples, defaultValue = options.Samples)
    let components = args.GetResult(Components, defaultValue = options.Components)
    let iterations = args.GetResult(Iterations, defaultValue = options.Iterations)
    if samples < 2 || samples > 10_000_000 then
        Input.fail "bench gmm: --samples %d is outside 2..10000000" samples
    if components < 1 || components > samples then
        Input.fail "bench gmm: --components %d is outside 1..%d" components samples
    if iterations < 1 || iterations > 10_000 then
        Input.fail "bench gmm: --iterations %d is outside 1..10000" iterations
    let types =
        match args.TryGetResult GmmBenchArgs.Covariance with
        | Some names -> names |> List.distinct |> List.map covariance
        | None -> options.Types
    GmmBench.run
        device
        { options with Samples = samples; Components = components; Iterations = iterations; Types = types }

let ckaReport (device: Hybrid.Core.Gpu.Device) (args: ParseResults<CkaBenchArgs>) =
    let options = if args.Contains CkaBenchArgs.Quick then CkaBench.quick else CkaBench.defaults
    let stored = args.GetResult(CkaBenchArgs.Stored, defaultValue = options.Stored)
    if stored < options.K || stored > 400_000 then
        Input.fail "bench cka: --stored %d is outside %d..400000" stored options.K
    CkaBench.run device { options with Stored = stored }

let ckaIndexReport (device: Hybrid.Core.Gpu.Device) (args: ParseResults<CkaIndexBenchArgs>) =
    let options = if args.Contains CkaIndexBenchArgs.Quick then CkaIndexBench.quick else CkaIndexBench.defaults
    let stored = args.GetResult(CkaIndexBenchArgs.Stored, defaultValue = options.Stored)
    if stored < options.LayersPerModel || stored > 400_000 || stored % options.LayersPerModel <> 0 then
        Input.fail
            "bench cka-index: --stored %d must be a multiple of %d in %d..400000"
            stored
            options.LayersPerModel
            options.LayersPerModel
    let depth = args.GetResult(CkaIndexBenchArgs.Depth, defaultValue = options.Depth)
    if not (List.contains depth [ 20; 32; 44; 56; 110 ]) then
        Input.fail "bench cka-index: --depth %d is not 20, 32, 44, 56 or 110" depth
    CkaIndexBench.run device { options with Stored = stored; Depth = depth }

let fuzz (json: bool) (args: ParseResults<FuzzArgs>) =
    let count = args.GetResult(FuzzArgs.Count, defaultValue = Defaults.fuzz.Count)
    if count < 1 || count > 100_000_000 then
        Input.fail "bench fuzz: --count %d is outside 1..100000000" count
    let seed = args.GetResult(FuzzArgs.Seed, defaultValue = Defaults.fuzz.Seed)
    let cases =
        FuzzBench.targets (FuzzBench.sharedDir ())
        |> List.map (fun t ->
            Report.progress "fuzz" $"{t.Format}: {count} mutations of {t.Seed}"
            FuzzBench.run t count seed (System.TimeSpan.FromSeconds 10.0) (Report.progress "fuzz"))
    if json then
        printJson { Benchmark = "fuzz"; MutationSeed = seed; Cases = cases }
    else
        table
            [ "format"; "inputs"; "loaded"; "clean errors"; "defects"; "hangs"; "inputs/s" ]
            [ for c in cases ->
                  [ c.Format
                    string c.Inputs
                    string c.Loaded
                    string c.CleanErrors
                    string c.Defects
                    string c.Hangs
                    sprintf "%.0f" (float c.Inputs / c.Seconds) ] ]
        for c in cases do
            c.FirstDefect |> Option.iter (fun d -> note $"{c.Format}: {d} (inputs kept in {c.Kept.Value})")
    if cases |> List.exists (fun c -> c.Defects + c.Hangs > 0) then 1 else 0

let resnetReport (device: Hybrid.Core.Gpu.Device) (args: ParseResults<ResnetBenchArgs>) =
    let options = if args.Contains ResnetBenchArgs.Quick then ResnetBench.quick else ResnetBench.defaults
    let inference = args.GetResult(Inference_Batch, defaultValue = options.InferenceBatch)
    let train = args.GetResult(Train_Batch, defaultValue = options.TrainBatch)
    for name, b in [ "--inference-batch", inference; "--train-batch", train ] do
        if b < 1 || b > 4096 then
            Input.fail "bench resnet: %s %d is outside 1..4096" name b
    ResnetBench.run device { options with InferenceBatch = inference; TrainBatch = train }

/// `bench resnet --memory`: the census of one training forward at --train-batch (a table, not a timing report).
let resnetMemory (device: Hybrid.Core.Gpu.Device) (args: ParseResults<ResnetBenchArgs>) =
    let train = args.GetResult(Train_Batch, defaultValue = ResnetBench.defaults.TrainBatch)
    if train < 2 || train > 4096 then
        Input.fail "bench resnet: --train-batch %d is outside 2..4096 (batch norm needs two images)" train
    ResnetMemory.run device train

let extractReport (args: ParseResults<ExtractBenchArgs>) =
    let options = if args.Contains ExtractBenchArgs.Quick then ExtractBench.quick else ExtractBench.defaults
    let files = args.GetResult(Files, defaultValue = options.Files)
    if files < 1 || files > 1_000_000 then
        Input.fail "bench extract: --files %d is outside 1..1000000" files
    let db = args.TryGetResult ExtractBenchArgs.Db
    db |> Option.iter Hybrid.Analysis.WorkQueue.check
    ExtractBench.run { options with Files = files; Db = db }

let reengineerReport (device: Hybrid.Core.Gpu.Device) (args: ParseResults<ReengineerBenchArgs>) =
    let images = args.GetResult(Images, defaultValue = ReengineerBench.defaults.Images)
    if images < 1 || images > 100_000 then
        Input.fail "bench reengineer: --images %d is outside 1..100000" images
    let reengineered = args.TryGetResult ReengineerBenchArgs.Reengineered
    // Checked before the minutes of training timing, not after them.
    for dir in Option.toList reengineered do
        for name in [ "model.safetensors"; "model.onnx" ] do
            let path = System.IO.Path.Combine(dir, name)
            if not (System.IO.File.Exists path) then
                Input.fail "%s: file not found" path
    ReengineerBench.run device { ReengineerBench.defaults with Images = images; Reengineered = reengineered }

let anomalyReport (device: Hybrid.Core.Gpu.Device) (args: ParseResults<AnomalyBenchArgs>) =
    let d = AnomalyBench.defaults
    let epochs = args.GetResult(AnomalyBenchArgs.Epochs, defaultValue = d.Epochs)
    if epochs < 1 || epochs > 10_000 then
        Input.fail "bench anomaly: --epochs %d is outside 1..10000" epochs
    AnomalyBench.run
        device
        { d with
            Data = args.TryGetResult AnomalyBenchArgs.Data
            Label =
                args.TryGetResult AnomalyBenchArgs.Label
                |> Option.map Hybrid.Analysis.Naming.Labels.parseField
                |> Option.defaultValue d.Label
            MinClassCount = args.GetResult(AnomalyBenchArgs.Min_Class_Count, defaultValue = d.MinClassCount)
            Epochs = epochs }

let run (args: ParseResults<BenchArgs>) =
    let device = device (args.GetResult(BenchArgs.Device, defaultValue = defaultDevice))
    let json = args.Contains BenchArgs.Json
    if device.Kind = Hybrid.Core.Gpu.DeviceKind.Gpu && not Hybrid.Core.Gpu.Device.CudaAvailable then
        note
            "hybrid: note: no CUDA device, so the ILGPU kernels run on ILGPU's CPU accelerator, about a thousand times slower than native code (try gemm --sizes 64 128)"
    match args.TryGetSubCommand() with
    | Some(Gemm a) ->
        print json (gemmReport device a)
        0
    | Some(Conv a) ->
        print json (convReport device a)
        0
    | Some(BenchArgs.Gmm a) ->
        print json (gmmReport device a)
        0
    | Some(BenchArgs.Cka a) ->
        print json (ckaReport device a)
        0
    | Some(Cka_Index a) ->
        print json (ckaIndexReport device a)
        0
    | Some(Fuzz a) -> fuzz json a
    | Some(Resnet a) when a.Contains ResnetBenchArgs.Memory ->
        ResnetMemory.print (resnetMemory device a)
        0
    | Some(Resnet a) ->
        print json (resnetReport device a)
        0
    | Some(BenchArgs.Extract a) ->
        print json (extractReport a)
        0
    | Some(BenchArgs.Reengineer a) ->
        print json (reengineerReport device a)
        0
    | Some(BenchArgs.Anomaly a) ->
        print json (anomalyReport device a)
        0
    | _ ->
        Input.fail
            "bench: name a benchmark: gemm, conv, gmm, cka, fuzz, resnet, extract, reengineer or anomaly (see hybrid bench --help)"
