/// `hybrid train`: train a zoo architecture with progress, a checkpoint per epoch and --resume.
module Hybrid.Cli.TrainCommand

open Argu
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private options (args: ParseResults<TrainArgs>) =
    let positive name value = if value < 1 then Input.fail "train: --%s %d must be at least 1" name value else value
    let schedule =
        match args.GetResult(TrainArgs.Schedule, defaultValue = ScheduleName.Cosine) with
        | ScheduleName.Cosine -> Training.Cosine
        | ScheduleName.Constant -> Training.Constant
        | ScheduleName.Step ->
            Training.StepDecay(
                positive
                    "step-size"
                    (args.GetResult(TrainArgs.Step_Size, defaultValue = Defaults.stepSchedule.StepSize)),
                args.GetResult(TrainArgs.Gamma, defaultValue = Defaults.stepSchedule.Gamma)
            )
    let mean, std = ImageRun.normalisation (args.TryGetResult TrainArgs.Mean) (args.TryGetResult TrainArgs.Std)
    { Training.defaults (args.GetResult TrainArgs.Arch) with
        Epochs = positive "epochs" (args.GetResult(TrainArgs.Epochs, defaultValue = Defaults.train.Epochs))
        BatchSize = positive "batch" (args.GetResult(TrainArgs.Batch, defaultValue = Defaults.train.BatchSize))
        LearningRate = args.GetResult(TrainArgs.Lr, defaultValue = Defaults.train.LearningRate)
        Momentum = args.GetResult(TrainArgs.Momentum, defaultValue = Defaults.train.Momentum)
        Nesterov = not (args.Contains TrainArgs.No_Nesterov)
        WeightDecay = args.GetResult(TrainArgs.Weight_Decay, defaultValue = Defaults.train.WeightDecay)
        Schedule = schedule
        CropPadding = args.GetResult(TrainArgs.Crop_Padding, defaultValue = Defaults.train.CropPadding)
        Flip = not (args.Contains TrainArgs.No_Flip)
        Seed = int64 (args.GetResult(TrainArgs.Seed, defaultValue = int Defaults.train.Seed))
        Mean = mean
        Std = std }

let private printTable (r: Train.TrainResult) =
    table
        [ "epoch"; "loss"; "train accuracy"; "test accuracy"; "lr"; "time" ]
        [ for e in r.Epochs ->
              [ string e.Epoch
                $"{e.Loss:F4}"
                $"{e.TrainAccuracy:F4}"
                (e.TestAccuracy |> Option.map (sprintf "%.4f") |> Option.defaultValue "-")
                $"{e.Lr:G4}"
                $"{e.Seconds:F1} s" ] ]
    printfn "model written to %s" r.Out

let run (args: ParseResults<TrainArgs>) =
    let engine = engineOf (args.GetResult(TrainArgs.Engine, defaultValue = "core"))
    let device = trainingDevice engine (args.GetResult(TrainArgs.Device, defaultValue = defaultDevice))
    Train.checkArchitecture (args.GetResult TrainArgs.Arch)
    let options = options args
    let out = args.GetResult TrainArgs.Out
    let everyTwentieth index count = index % 20 = 0 || index = count - 1
    let report =
        epochProgress "train" (Training.checkpointPath out) everyTwentieth (fun (r: Training.EpochReport) ->
            let test = r.TestAccuracy |> Option.map (sprintf ", test accuracy %.4f") |> Option.defaultValue ""
            $"epoch {r.Epoch + 1}/{options.Epochs}: loss {r.Loss:F4}, train accuracy {r.TrainAccuracy:F4}{test}, lr {r.LearningRate:G4}, {r.Seconds:F1} s")
    let result =
        Train.runWith
            (trainEngine engine)
            device
            options
            (args.GetResult TrainArgs.Dataset)
            (args.TryGetResult TrainArgs.Test_Dataset)
            out
            (args.Contains TrainArgs.Resume)
            report
    if args.Contains TrainArgs.Json then printJson result else printTable result
    0
