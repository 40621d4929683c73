/// `hybrid reengineer`: SeaM's model re-engineering with a progress line per epoch, --resume, and the measurements.
module Hybrid.Cli.ReengineerCommand

open Argu
open Hybrid.Analysis
open Hybrid.Analysis.Reengineering
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private options (args: ParseResults<ReengineerArgs>) =
    let d = MaskTraining.defaults
    let mean, std =
        ImageRun.normalisation (args.TryGetResult ReengineerArgs.Mean) (args.TryGetResult ReengineerArgs.Std)
    let threshold = args.TryGetResult ReengineerArgs.Prune_Threshold
    match threshold with
    | Some t when not (t > 0.0 && t < 1.0) -> Input.fail "reengineer: --prune-threshold %g must lie between 0 and 1" t
    | _ -> ()
    { d with
        LrMask = args.GetResult(ReengineerArgs.Lr_Mask, defaultValue = d.LrMask)
        LrHead = args.GetResult(ReengineerArgs.Lr_Head, defaultValue = d.LrHead)
        Alpha = args.GetResult(ReengineerArgs.Alpha, defaultValue = d.Alpha)
        Epochs = args.GetResult(ReengineerArgs.Epochs, defaultValue = d.Epochs)
        Seed = int64 (args.GetResult(ReengineerArgs.Seed, defaultValue = int d.Seed))
        Schedule =
            (match args.GetResult(ReengineerArgs.Schedule, defaultValue = Published) with
             | Published -> MaskTraining.Published
             | Fast -> MaskTraining.Fast)
        PruneThreshold = threshold
        Mean = mean
        Std = std }

let printReport (r: ReengineerReport.ReengineerResult) =
    table [ "measure"; "value" ] (ReengineerReport.summary r)
    printfn "written to %s (report.html, report.json, masks.safetensors, model.safetensors, model.onnx)" r.Out

let run (args: ParseResults<ReengineerArgs>) =
    let engine = engineOf (args.GetResult(ReengineerArgs.Engine, defaultValue = "core"))
    let device = trainingDevice engine (args.GetResult(ReengineerArgs.Device, defaultValue = defaultDevice))
    let o = options args
    let out = args.GetResult ReengineerArgs.Out
    let report =
        epochProgress
            "reengineer"
            (MaskTraining.checkpointPath out)
            (fun _ _ -> true)
            (fun (e: MaskTraining.EpochReport) ->
                let phase = if e.HeadOnly then "head" else "head+masks"
                $"epoch {e.Epoch + 1}/{o.Epochs} ({phase}): loss {e.Loss:F4}, train accuracy {e.TrainAccuracy:F4}, validation accuracy {e.ValidationAccuracy:F4}, weight ratio {100.0 * e.WeightRatio:F2}%%, {e.Seconds:F1} s")
    let request: Reengineer.Request =
        { Model = args.GetResult ReengineerArgs.Model
          Arch = args.TryGetResult ReengineerArgs.Arch
          Dataset = args.GetResult ReengineerArgs.Dataset
          TargetClass = args.TryGetResult ReengineerArgs.Target_Class
          TargetClasses = args.TryGetResult ReengineerArgs.Target_Classes
          Split = args.TryGetResult ReengineerArgs.Split
          Options = o
          Out = out
          Resume = args.Contains ReengineerArgs.Resume }
    let result = Reengineer.runWith (maskEngine engine) device request report
    if args.Contains ReengineerArgs.Json then printJson result else printReport result
    0
