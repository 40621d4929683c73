/// `hybrid eval`: classify a dataset with a model in any format and print accuracy, n and the confusion matrix.
module Hybrid.Cli.EvalCommand

open Argu
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private printResult (r: Evaluate.EvalResult) =
    printfn "model     %s" r.Model
    printfn "network   %s" r.Network
    printfn "accuracy  %.4f" r.Accuracy
    printfn "n         %d" r.N
    printfn "confusion (rows: true class, columns: predicted)"
    let width = r.Classes |> List.map String.length |> List.max |> max 5
    printfn
        "%s %s"
        (System.String(' ', width))
        (r.Classes |> List.mapi (fun i _ -> sprintf "%5d" i) |> String.concat " ")
    r.Confusion
    |> Array.iteri (fun i row ->
        printfn "%s %s" (r.Classes.[i].PadLeft width) (row |> Array.map (sprintf "%5d") |> String.concat " "))

let run (args: ParseResults<EvalArgs>) =
    let device = device (args.GetResult(EvalArgs.Device, defaultValue = defaultDevice))
    let result =
        Evaluate.run
            device
            (engine (engineOf (args.GetResult(EvalArgs.Engine, defaultValue = "core"))))
            (args.GetResult EvalArgs.Model)
            (args.TryGetResult EvalArgs.Arch)
            (args.GetResult EvalArgs.Dataset)
            (args.TryGetResult EvalArgs.Mean)
            (args.TryGetResult EvalArgs.Std)
            (args.GetResult(EvalArgs.Batch, defaultValue = Defaults.eval.Batch))
            (progressLine "eval")
    if args.Contains EvalArgs.Json then printJson result else printResult result
    0
