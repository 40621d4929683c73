/// `hybrid analyze-model`: the model-analysis views of a classifier on a dataset, written under --out with an
/// index.html; prints where each picture went.
module Hybrid.Cli.AnalyzeModelCommand

open Argu
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private printResult (r: AnalyzeModelService.AnalyzeModelResult) =
    printfn "model     %s" r.Model
    printfn "network   %s" r.Network
    printfn "dataset   %s (%d images)" r.Dataset r.N
    match r.Confusion with
    | Some c ->
        printfn
            "confusion accuracy %.4f (%d of %d); %d contact sheets under confusion/"
            c.Accuracy
            c.Correct
            r.N
            c.Sheets.Length
    | None -> ()
    match r.Maps with
    | Some m ->
        printfn "maps      %s (%s) on image %d (%s, predicted %s):" m.Layer m.LayerType m.Image m.Label m.Predicted
        for f in m.Files do
            printfn "  channel %4d  mean %9.4f  max %9.4f  %s" f.Channel f.Mean f.Max f.File
    | None -> ()
    if not r.Maximised.IsEmpty then
        printfn "maximised (activation of the starting noise -> of the optimised input):"
        for m in r.Maximised do
            printfn "  %-28s %9.4f -> %9.4f  %s" m.Target m.SeedActivation m.Activation m.File
    printfn "index     %s" r.Index

let run (args: ParseResults<AnalyzeModelArgs>) =
    let device = device (args.GetResult(AnalyzeModelArgs.Device, defaultValue = defaultDevice))
    let mean, std =
        ImageRun.normalisation (args.TryGetResult AnalyzeModelArgs.Mean) (args.TryGetResult AnalyzeModelArgs.Std)
    let d = Defaults.analyzeModel.Maximise
    let request: AnalyzeModelService.Request =
        { Model = args.GetResult AnalyzeModelArgs.Model
          Arch = args.TryGetResult AnalyzeModelArgs.Arch
          Dataset = args.GetResult AnalyzeModelArgs.Dataset
          Mean = mean
          Std = std
          Count = args.TryGetResult AnalyzeModelArgs.Count
          Out = args.GetResult AnalyzeModelArgs.Out
          Views =
            AnalyzeModelService.parseViews (
                args.GetResult(AnalyzeModelArgs.Views, defaultValue = Defaults.analyzeModel.Views)
            )
          Layer = args.TryGetResult AnalyzeModelArgs.Layer
          Channels = args.GetResult(AnalyzeModelArgs.Channels, defaultValue = [])
          Classes = args.GetResult(AnalyzeModelArgs.Classes, defaultValue = [])
          K = args.GetResult(AnalyzeModelArgs.K, defaultValue = Defaults.analyzeModel.K)
          Image = args.GetResult(AnalyzeModelArgs.Image, defaultValue = Defaults.analyzeModel.Image)
          Batch = args.GetResult(AnalyzeModelArgs.Batch, defaultValue = Defaults.eval.Batch)
          Settings =
            { Steps = args.GetResult(AnalyzeModelArgs.Steps, defaultValue = d.Steps)
              StepSize = args.GetResult(AnalyzeModelArgs.Step_Size, defaultValue = d.StepSize)
              L2Decay = args.GetResult(AnalyzeModelArgs.L2_Decay, defaultValue = d.L2Decay)
              Jitter = args.GetResult(AnalyzeModelArgs.Jitter, defaultValue = d.Jitter)
              BlurEvery = args.GetResult(AnalyzeModelArgs.Blur_Every, defaultValue = d.BlurEvery)
              BlurSigma = args.GetResult(AnalyzeModelArgs.Blur_Sigma, defaultValue = d.BlurSigma)
              NoiseStd = d.NoiseStd
              Seed = args.GetResult(AnalyzeModelArgs.Seed, defaultValue = d.Seed) } }
    if request.Batch < 1 then
        Input.fail "analyze-model: --batch %d must be at least 1" request.Batch
    let lines = System.Collections.Generic.Dictionary<string, int -> int -> unit>()
    let progress (stage: string) (doneCount: int) (total: int) =
        if not (lines.ContainsKey stage) then
            lines[stage] <- progressLine stage
        lines[stage] doneCount total
    let result = AnalyzeModelService.run device request progress
    if args.Contains AnalyzeModelArgs.Json then printJson result else printResult result
    0
