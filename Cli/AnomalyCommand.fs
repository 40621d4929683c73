/// `hybrid anomaly train` and `hybrid anomaly check`: naming-anomaly detection (DARA) from the command line.
module Hybrid.Cli.AnomalyCommand

open Argu
open Hybrid.Analysis
open Hybrid.Analysis.Naming
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private rule (tau: float option) (epsilon: float option) (noMixtures: bool) =
    let d = Flags.defaults
    Flags.validate
        { Tau = defaultArg tau d.Tau
          Epsilon = if noMixtures then None else Some(defaultArg epsilon (Option.get d.Epsilon)) }

let private settings (args: ParseResults<AnomalyTrainArgs>) : CrossValidation.Settings =
    let c, m = Classifier.defaults, Mixtures.defaults
    let width = args.TryGetResult AnomalyTrainArgs.Width
    if width |> Option.exists (fun w -> w < 4) then
        Input.fail "anomaly train: --width %d must be at least 4" width.Value
    let noisy = args.TryGetResult AnomalyTrainArgs.Filter_Noisy
    if noisy |> Option.exists (fun p -> not (p > 0.0 && p < 1.0)) then
        Input.fail "anomaly train: --filter-noisy %g must lie between 0 and 1" noisy.Value
    if noisy.IsSome && args.Contains AnomalyTrainArgs.No_Mixtures then
        Input.fail
            "anomaly train: --filter-noisy scores the training models with the class mixtures; drop --no-mixtures"
    { Features =
        { Trigrams = args.Contains AnomalyTrainArgs.Trigrams
          Shapes = args.Contains AnomalyTrainArgs.Shapes
          TracedNames = not (args.Contains AnomalyTrainArgs.Normalised_Names)
          Positions =
            args.GetResult(AnomalyTrainArgs.Positions, defaultValue = CrossValidation.defaults.Features.Positions) }
      Scaling =
        Vocabulary.parseScaling (args.GetResult(AnomalyTrainArgs.Scaling, defaultValue = Defaults.anomaly.Scaling))
      MinDocuments = args.GetResult(AnomalyTrainArgs.Min_Df, defaultValue = Defaults.anomaly.MinDocuments)
      Classifier =
        { c with
            Widths = width |> Option.map (fun w -> [ w; w / 2; w / 4 ]) |> Option.defaultValue c.Widths
            Dropout = args.GetResult(AnomalyTrainArgs.Dropout, defaultValue = c.Dropout)
            LearningRate = args.GetResult(AnomalyTrainArgs.Lr, defaultValue = c.LearningRate)
            Epochs = args.GetResult(AnomalyTrainArgs.Epochs, defaultValue = c.Epochs)
            BatchSize = args.GetResult(AnomalyTrainArgs.Batch_Size, defaultValue = c.BatchSize)
            StepEvery = args.GetResult(AnomalyTrainArgs.Step_Every, defaultValue = c.StepEvery)
            Seed = args.GetResult(AnomalyTrainArgs.Seed, defaultValue = c.Seed) }
      Mixtures =
        if args.Contains AnomalyTrainArgs.No_Mixtures then
            None
        else
            Some
                { m with
                    Covariance =
                        args.TryGetResult AnomalyTrainArgs.Covariance
                        |> Option.map covariance
                        |> Option.defaultValue m.Covariance
                    MaxComponents = args.GetResult(AnomalyTrainArgs.Max_Components, defaultValue = m.MaxComponents)
                    Seed = args.GetResult(AnomalyTrainArgs.Seed, defaultValue = m.Seed) }
      NoisyBelow = noisy
      Folds = args.GetResult(AnomalyTrainArgs.Folds, defaultValue = Defaults.anomaly.Folds) }

/// The cross-validation table and the classifier's summary, as `anomaly train` prints them.
let printTrained (folds: int) (r: AnomalyService.TrainResult) =
    heading
        $"Naming classifier: {r.Label} of {r.Models} models, {r.Classes.Length} classes (min class count {r.MinClassCount}), {folds}-fold cross-validation, seed {r.Seed}"
    table
        [ "fold"; "test models"; "features"; "accuracy"; "macro-F1" ]
        [ for f in r.Folds do
              yield [ string f.Fold; string f.TestCount; string f.Features; $"{f.Accuracy:F3}"; $"{f.MacroF1:F3}" ]
          yield [ "mean"; ""; ""; $"{r.MeanAccuracy:F3}"; $"{r.MeanMacroF1:F3}" ] ]
    if not r.Merged.IsEmpty then
        printfn "merged into Others: %s" (String.concat ", " r.Merged)
    if not r.Singletons.IsEmpty then
        printfn "classes of one model, trained on but never tested: %s" (String.concat ", " r.Singletons)
    printfn
        "out of fold, flagged: %.1f%% with mixtures, %.1f%% without; classifier (%d features) written to %s"
        (100.0 * r.FlaggedShare)
        (100.0 * r.FlaggedShareWithoutMixtures)
        r.Features
        r.Out

/// The ranked table of checked models (the first `top`), as `anomaly check` prints it.
let printChecked (top: int) (r: AnomalyService.CheckResult) =
    let flagged = r.Results |> List.filter _.Flagged |> List.length
    heading $"Naming anomalies: {flagged} of {r.Results.Length} models flagged, most suspicious first"
    table
        [ "model"; "declared"; "predicted"; "confidence"; "score"; "flag" ]
        [ for row in List.truncate top r.Results ->
              [ row.Id
                defaultArg row.Declared "-"
                row.Predicted
                $"{row.Confidence:F3}"
                (row.Score |> Option.map (sprintf "%.1f") |> Option.defaultValue "-")
                (if row.Flagged then "FLAG" else "") ] ]
    r.Accuracy
    |> Option.iter (fun a -> printfn "prediction equals the declared label for %.1f%% of the models" (100.0 * a))

let private train (args: ParseResults<AnomalyTrainArgs>) =
    let device = device (args.GetResult(AnomalyTrainArgs.Device, defaultValue = defaultDevice))
    let json = args.Contains AnomalyTrainArgs.Json
    let settings = settings args
    let request: AnomalyService.TrainRequest =
        { Field = Labels.parseField (args.GetResult(AnomalyTrainArgs.Label, defaultValue = "model_type"))
          MinClassCount =
            args.GetResult(AnomalyTrainArgs.Min_Class_Count, defaultValue = Defaults.anomaly.MinClassCount)
          Seed = settings.Classifier.Seed
          Settings = settings
          Rule =
            rule
                (args.TryGetResult AnomalyTrainArgs.Tau)
                (args.TryGetResult AnomalyTrainArgs.Epsilon)
                (args.Contains AnomalyTrainArgs.No_Mixtures)
          Out = args.GetResult AnomalyTrainArgs.Out }
    let models =
        AnomalyService.trainingModels
            (args.GetResult(AnomalyTrainArgs.Data, defaultValue = []))
            (args.TryGetResult AnomalyTrainArgs.Db)
    let onFold (f: CrossValidation.Fold) =
        if not json then
            note $"fold {f.Fold}/{settings.Folds}: accuracy {f.Accuracy:F3}, macro-F1 {f.MacroF1:F3}"
    let r = AnomalyService.train device request models onFold
    if json then printJson r else printTrained settings.Folds r
    0

let private check (args: ParseResults<AnomalyCheckArgs>) =
    let device = device (args.GetResult(AnomalyCheckArgs.Device, defaultValue = defaultDevice))
    let inputs = args.GetResult(AnomalyCheckArgs.Inputs, defaultValue = [])
    let db = args.TryGetResult AnomalyCheckArgs.Db
    if inputs.IsEmpty && db.IsNone then
        Input.fail "anomaly check: name models to check (trace files, model files or folders) or --db CATALOG"
    let models =
        (inputs |> List.collect Extract.fromPath)
        @ (db |> Option.map AnomalyService.catalogModels |> Option.defaultValue [])
    let rule =
        rule
            (args.TryGetResult AnomalyCheckArgs.Tau)
            (args.TryGetResult AnomalyCheckArgs.Epsilon)
            (args.Contains AnomalyCheckArgs.No_Mixtures)
    let r = AnomalyService.check device (args.GetResult AnomalyCheckArgs.Classifier) rule models
    if args.Contains AnomalyCheckArgs.Json then
        printJson r
    else
        printChecked (args.GetResult(AnomalyCheckArgs.Top, defaultValue = Defaults.anomaly.Top)) r
    0

let run (args: ParseResults<AnomalyArgs>) =
    match args.TryGetSubCommand() with
    | Some(AnomalyArgs.Train a) -> train a
    | Some(AnomalyArgs.Check a) -> check a
    | _ -> Input.fail "anomaly: name a command: train or check (see hybrid anomaly --help)"
