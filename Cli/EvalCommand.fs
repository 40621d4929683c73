/// `hybrid eval`: classify a dataset with a model in any format and print accuracy, n and the confusion matrix.
module Hybrid.Cli.EvalCommand

open System
open System.Text.Json
open Argu
open Hybrid.Core.Nn.Data
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Console

/// "0.485,0.456,0.406" as floats; the flag's name goes into the error.
let channelValues (flag: string) (text: string) =
    text.Split(',', StringSplitOptions.TrimEntries)
    |> Array.map (fun v ->
        match Single.TryParse(v, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with
        | true, x when Single.IsFinite x -> x
        | _ -> fail "%s: '%s' is not a comma-separated list of numbers" flag text)

/// A progress line on standard error, rewritten in place on a terminal, every 10% otherwise.
let progressLine (label: string) =
    let mutable lastTenth = -1
    fun (doneCount: int) (total: int) ->
        if Console.IsErrorRedirected then
            let tenth = if total = 0 then 10 else doneCount * 10 / total
            if tenth <> lastTenth then
                lastTenth <- tenth
                eprintfn "%s: %d / %d" label doneCount total
        else
            eprintf "\r%s: %d / %d" label doneCount total
            if doneCount >= total then eprintfn ""

let run (args: ParseResults<EvalArgs>) =
    let device = device (args.GetResult(EvalArgs.Device, defaultValue = Auto))
    let batch = args.GetResult(EvalArgs.Batch, defaultValue = 256)
    if batch < 1 then fail "eval: --batch %d must be at least 1" batch
    let mean = args.TryGetResult EvalArgs.Mean |> Option.map (channelValues "--mean")
    let std = args.TryGetResult EvalArgs.Std |> Option.map (channelValues "--std")
    let modelPath = args.GetResult EvalArgs.Model
    let data = DatasetSpec.Load(args.GetResult EvalArgs.Dataset, train = false)
    let network = Networks.load device modelPath (args.TryGetResult EvalArgs.Arch)
    let json = args.Contains EvalArgs.Json
    let result = Networks.evaluate device network data mean std batch (progressLine "eval")
    if json then
        dict [ "accuracy", box result.Accuracy; "n", box result.N; "correct", box result.Correct
               "classes", box result.ClassNames; "confusion", box result.Confusion
               "model", box modelPath; "network", box network.Describe; "device", box device.Name ]
        |> fun doc -> printfn "%s" (JsonSerializer.Serialize doc)
    else
        printfn "model     %s" modelPath
        printfn "network   %s" network.Describe
        printfn "accuracy  %.4f" result.Accuracy
        printfn "n         %d" result.N
        printfn "confusion (rows: true class, columns: predicted)"
        let width = result.ClassNames |> List.map String.length |> List.max |> max 5
        printfn "%s %s" (String(' ', width)) (result.ClassNames |> List.mapi (fun i _ -> sprintf "%5d" i) |> String.concat " ")
        result.Confusion
        |> Array.iteri (fun i row ->
            printfn "%s %s" (result.ClassNames.[i].PadLeft width) (row |> Array.map (sprintf "%5d") |> String.concat " "))
    0
