/// `hybrid defects`: SeaM's defect-inheritance experiment with progress on standard error and a table (or --json).
module Hybrid.Cli.DefectsCommand

open Argu
open Hybrid.Analysis
open Hybrid.Analysis.Reengineering
open Hybrid.Cli.Args
open Hybrid.Cli.Console
open Hybrid.Cli.Defaults

let private request (args: ParseResults<DefectsArgs>) : DefectsService.Request =
    let d = Defects.defaults
    let attack = TransferAttack.seam
    let mean, std = ImageRun.normalisation (args.TryGetResult DefectsArgs.Mean) (args.TryGetResult DefectsArgs.Std)
    { Original = args.GetResult DefectsArgs.Original
      Arch = args.TryGetResult DefectsArgs.Arch
      Reengineered = args.GetResult DefectsArgs.Reengineered
      Dataset = args.GetResult(DefectsArgs.Dataset, defaultValue = defects.Dataset)
      TrainCount = args.GetResult(DefectsArgs.Train_Count, defaultValue = defects.TrainCount)
      TestCount = args.GetResult(DefectsArgs.Test_Count, defaultValue = defects.TestCount)
      ImageSize = args.GetResult(DefectsArgs.Image_Size, defaultValue = defects.ImageSize)
      FineTuning =
        { d with
            Epochs = args.GetResult(DefectsArgs.Epochs, defaultValue = d.Epochs)
            Lr = args.GetResult(DefectsArgs.Lr, defaultValue = d.Lr)
            BatchSize = args.GetResult(DefectsArgs.Batch, defaultValue = d.BatchSize)
            Seed = int64 (args.GetResult(DefectsArgs.Seed, defaultValue = int d.Seed))
            Mean = mean
            Std = std }
      Attack =
        { Epsilon = args.GetResult(DefectsArgs.Eps, defaultValue = attack.Epsilon)
          Steps = args.GetResult(DefectsArgs.Steps, defaultValue = attack.Steps)
          StepSize = args.GetResult(DefectsArgs.Step_Size, defaultValue = attack.StepSize)
          RandomStart = not (args.Contains DefectsArgs.No_Random_Start) } }

let private percent (x: float) = sprintf "%.2f%%" (100.0 * x)

let private optionalPercent (x: float option) = x |> Option.map percent |> Option.defaultValue "n/a"

let private printResult (r: DefectsService.DefectsResult) =
    let row (measure: string) (cell: DefectsService.ModelResult -> string) = measure :: [ for m in r.Models -> cell m ]
    printfn "fine-tuned on %s; re-engineered models with their masks enforced, and unenforced (SeaM's)" r.Dataset
    table
        ("" :: [ for m in r.Models -> m.Model.Replace("reengineered-", "") ])
        [ row "clean accuracy" (fun m -> percent m.CleanAccuracy)
          row "adversarial accuracy" (fun m -> percent m.AdversarialAccuracy)
          row "defect rate" (fun m -> optionalPercent m.DefectRate)
          row "flipped / clean-correct" (fun m -> $"{m.Flipped} / {m.CleanCorrect}")
          row "weights non-zero" (fun m -> percent m.NonzeroWeights) ]
    printfn
        "defect rate reduction against the original: masks enforced %s, unenforced %s (the masks keep %s of the weights; target %s)"
        (optionalPercent r.Reduction.Enforced)
        (optionalPercent r.Reduction.Unenforced)
        (percent r.WeightsKept)
        r.Target

let run (args: ParseResults<DefectsArgs>) =
    let device = device (args.GetResult(DefectsArgs.Device, defaultValue = defaultDevice))
    let r = request args
    let crafting = progressLine "defects: crafting adversarial images"
    let batchLines = System.Collections.Generic.Dictionary<string, int -> int -> unit>()
    let report (p: DefectsService.Progress) =
        match p with
        | DefectsService.Crafted(doneCount, total) -> crafting doneCount total
        | DefectsService.FineTuning(model, Defects.BatchDone(epoch, index, count)) ->
            let key = $"defects: fine-tuning {model}, epoch {epoch}/{r.FineTuning.Epochs}"
            if not (batchLines.ContainsKey key) then
                batchLines.[key] <- progressLine key
            batchLines.[key] (index + 1) count
        | DefectsService.FineTuning(model, Defects.EpochDone e) ->
            note
                $"defects: {model}, epoch {e.Epoch}/{r.FineTuning.Epochs}: loss {e.Loss:F4}, train accuracy {e.TrainAccuracy:F4}, {e.Seconds:F1} s"
    let result = DefectsService.run device r report
    if args.Contains DefectsArgs.Json then printJson result else printResult result
    0
