/// `hybrid train`: train a zoo architecture with progress, a checkpoint per epoch and --resume.
module Hybrid.Cli.TrainCommand

open System.Text.Json
open Argu
open Hybrid.Core.Nn.Data
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Console

/// The test split for the IDX datasets, which name a folder holding both splits.
let private defaultTest (spec: string) =
    match DatasetSpec.Parse(spec).Kind with
    | DatasetSpec.Source.FashionMnist
    | DatasetSpec.Source.Mnist -> Some spec
    | _ -> None

let run (args: ParseResults<TrainArgs>) =
    let device = device (args.GetResult(TrainArgs.Device, defaultValue = Auto))
    let arch = args.GetResult TrainArgs.Arch
    let imageArchitectures = List.ofSeq Hybrid.Core.Nn.Zoo.Zoo.ImageNames
    if not (List.contains arch imageArchitectures) then
        fail "train: unknown image architecture '%s': expected one of %s" arch (System.String.Join(", ", imageArchitectures))
    let positive name value = if value < 1 then fail "train: --%s %d must be at least 1" name value else value
    let basics = Training.defaults arch
    let schedule =
        match args.GetResult(TrainArgs.Schedule, defaultValue = ScheduleName.Cosine) with
        | ScheduleName.Cosine -> Training.Cosine
        | ScheduleName.Constant -> Training.Constant
        | ScheduleName.Step ->
            Training.StepDecay(positive "step-size" (args.GetResult(TrainArgs.Step_Size, defaultValue = 30)),
                               args.GetResult(TrainArgs.Gamma, defaultValue = 0.1))
    let options =
        { basics with
            Epochs = positive "epochs" (args.GetResult(TrainArgs.Epochs, defaultValue = basics.Epochs))
            BatchSize = positive "batch" (args.GetResult(TrainArgs.Batch, defaultValue = basics.BatchSize))
            LearningRate = args.GetResult(TrainArgs.Lr, defaultValue = basics.LearningRate)
            Momentum = args.GetResult(TrainArgs.Momentum, defaultValue = basics.Momentum)
            Nesterov = not (args.Contains TrainArgs.No_Nesterov)
            WeightDecay = args.GetResult(TrainArgs.Weight_Decay, defaultValue = basics.WeightDecay)
            Schedule = schedule
            CropPadding = args.GetResult(TrainArgs.Crop_Padding, defaultValue = basics.CropPadding)
            Flip = not (args.Contains TrainArgs.No_Flip)
            Seed = int64 (args.GetResult(TrainArgs.Seed, defaultValue = 0))
            Mean = args.TryGetResult TrainArgs.Mean |> Option.map (EvalCommand.channelValues "--mean")
            Std = args.TryGetResult TrainArgs.Std |> Option.map (EvalCommand.channelValues "--std") }
    if not (options.LearningRate > 0.0) then fail "train: --lr %g must be positive" options.LearningRate
    let spec = args.GetResult TrainArgs.Dataset
    let trainSet = DatasetSpec.Load(spec, train = true)
    let testSet =
        args.TryGetResult TrainArgs.Test_Dataset |> Option.orElse (defaultTest spec)
        |> Option.map (fun s -> DatasetSpec.Load(s, train = false))
    let out = args.GetResult TrainArgs.Out
    let json = args.Contains TrainArgs.Json
    let batchProgress = EvalCommand.progressLine "train"
    let report (p: Training.Progress) =
        match p with
        | Training.Resumed epochs -> note $"train: resuming from {Training.checkpointPath out} after {epochs} finished epoch(s)"
        | Training.BatchDone(epoch, index, count, loss) ->
            if index % 20 = 0 || index = count - 1 then
                batchProgress (index + 1) count
        | Training.EpochDone r ->
            let test = r.TestAccuracy |> Option.map (sprintf ", test accuracy %.4f") |> Option.defaultValue ""
            note $"epoch {r.Epoch + 1}/{options.Epochs}: loss {r.Loss:F4}, train accuracy {r.TrainAccuracy:F4}{test}, lr {r.LearningRate:G4}, {r.Seconds:F1} s"
    let _, reports = Training.train device options trainSet testSet out (args.Contains TrainArgs.Resume) report
    if json then
        let epochs =
            reports |> List.map (fun r ->
                dict [ "epoch", box (r.Epoch + 1); "loss", box r.Loss; "train_accuracy", box r.TrainAccuracy
                       "test_accuracy", box (Option.toNullable r.TestAccuracy); "lr", box r.LearningRate; "seconds", box r.Seconds ])
        printfn "%s" (JsonSerializer.Serialize(dict [ "arch", box arch; "out", box out; "seed", box options.Seed; "epochs", box epochs ]))
    else
        table [ "epoch"; "loss"; "train accuracy"; "test accuracy"; "lr"; "time" ]
            [ for r in reports ->
                [ string (r.Epoch + 1); $"{r.Loss:F4}"; $"{r.TrainAccuracy:F4}"
                  (r.TestAccuracy |> Option.map (sprintf "%.4f") |> Option.defaultValue "-"); $"{r.LearningRate:G4}"; $"{r.Seconds:F1} s" ] ]
        printfn "model written to %s" out
    0
