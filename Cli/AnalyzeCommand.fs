/// `hybrid analyze --out DIR`: the structure report over a set of models (ALGORITHMS.md section 3): the models of the
/// catalog, or files named with --from.
module Hybrid.Cli.AnalyzeCommand

open System
open System.IO
open System.Text.Json
open Argu
open Hybrid.Analysis
open Hybrid.Analysis.Architecture
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private models (args: ParseResults<AnalyzeArgs>) =
    let sources = args.GetResult(AnalyzeArgs.From, defaultValue = [])
    let task = args.TryGetResult AnalyzeArgs.Task
    if task |> Option.exists String.IsNullOrWhiteSpace then fail "analyze: --task is empty"
    if sources.IsEmpty then
        if task.IsSome then fail "analyze: --task applies to --from files; the catalog holds each model's task"
        ReportInputs.fromCatalog (args.GetResult(AnalyzeArgs.Db, defaultValue = "hybrid.db"))
    elif args.Contains AnalyzeArgs.Db then fail "analyze: --db and --from are alternatives; give one"
    else ReportInputs.fromPaths task sources

let summary (index: string) (models: Structure.ReportModel list) =
    let rows =
        [ for scope, members in Structure.scopes models ->
            let ms = members |> List.map Structure.metrics
            [ scope; string ms.Length; string (ms |> List.sumBy _.Layers)
              string (Structure.distribution members).Length
              (ms |> List.averageBy (fun m -> float m.Blocks)).ToString("0.#", Globalization.CultureInfo.InvariantCulture) ] ]
    heading "Structure report"
    table [ "scope"; "models"; "layers"; "layer types"; "mean blocks" ] rows
    printfn "report: %s" index

let private json (out: string) (index: string) (models: Structure.ReportModel list) =
    let dir = Path.GetDirectoryName index
    let files = Directory.GetFiles(dir, "*", SearchOption.AllDirectories) |> Array.map (fun f -> Path.GetRelativePath(dir, f)) |> Array.sort
    dict [ "index", box index; "out", box out; "models", box models.Length
           "layers", box (models |> List.sumBy _.Architecture.Nodes.Length)
           "tasks", box (models |> List.map _.Task |> List.distinct |> List.sort); "files", box files ]
    |> fun doc -> printfn "%s" (JsonSerializer.Serialize doc)

let run (args: ParseResults<AnalyzeArgs>) =
    let out = args.GetResult AnalyzeArgs.Out
    let models = models args
    let index =
        try Report.write out models
        with :? IOException | :? UnauthorizedAccessException as e -> fail "analyze: cannot write the report to %s: %s" out e.Message
    if args.Contains AnalyzeArgs.Json then json out index models else summary index models
    0
