/// `hybrid analyze --out DIR`: the structure report over a set of models (ALGORITHMS.md section 3): the models of the
/// catalog, or files named with --from.
module Hybrid.Cli.AnalyzeCommand

open System
open Argu
open Hybrid.Analysis
open Hybrid.Analysis.AnalyzeService
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private source (args: ParseResults<AnalyzeArgs>) =
    let sources = args.GetResult(AnalyzeArgs.From, defaultValue = [])
    let task = args.TryGetResult AnalyzeArgs.Task
    if task |> Option.exists String.IsNullOrWhiteSpace then
        Input.fail "analyze: --task is empty"
    if sources.IsEmpty then
        if task.IsSome then
            Input.fail "analyze: --task applies to --from files; the catalog holds each model's task"
        FromCatalog(args.GetResult(AnalyzeArgs.Db, defaultValue = Defaults.db))
    elif args.Contains AnalyzeArgs.Db then
        Input.fail "analyze: --db and --from are alternatives; give one"
    else
        FromPaths(task, sources)

/// The summary table of a report: per scope (overall, then each task), models, layers, layer types and mean blocks.
let printSummary (r: AnalyzeResult) =
    let rows =
        [ for scope, members in Structure.scopes r.Reported ->
              let ms = members |> List.map Structure.metrics
              [ scope
                string ms.Length
                string (ms |> List.sumBy _.Layers)
                string (Structure.distribution members).Length
                (ms |> List.averageBy (fun m -> float m.Blocks))
                    .ToString("0.#", Globalization.CultureInfo.InvariantCulture) ] ]
    heading "Structure report"
    table [ "scope"; "models"; "layers"; "layer types"; "mean blocks" ] rows
    printfn "report: %s" r.Index

let run (args: ParseResults<AnalyzeArgs>) =
    let out = args.GetResult AnalyzeArgs.Out
    let result = AnalyzeService.run (source args) out
    if args.Contains AnalyzeArgs.Json then printJson result else printSummary result
    0
