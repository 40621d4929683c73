/// `hybrid extract PATH...`: architectures of model files and folders into the catalog, with progress, a summary,
/// and exit code 1 when any file failed (the others are stored all the same).
module Hybrid.Cli.ExtractCommand

open System
open System.IO
open Argu
open Spectre.Console
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Console
// After Args, whose CkaBenchArgs.Stored would otherwise hide Outcome.Stored.
open Hybrid.Analysis.Extraction

let private describe (outcome: Outcome) =
    match outcome with
    | Stored(path, ids, _) when ids.Length = 1 -> $"stored {path} as model {ids.Head}"
    | Stored(path, ids, _) -> $"stored {path} as models {ids.Head}..{List.last ids} ({ids.Length})"
    | Skipped(path, ids) -> $"skipped {path}: already catalogued as model {ids.Head}"
    | Failed(_, message) -> $"failed {message}"

/// Runs extract with a Spectre.Console progress bar when stderr is a terminal, and one plain line per file otherwise;
/// stdout stays free for the summary or the JSON document.
let private withProgress (json: bool) (extract: (Progress -> unit) -> Outcome list) =
    let err = AnsiConsole.Create(AnsiConsoleSettings(Out = AnsiConsoleOutput(Console.Error)))
    if err.Profile.Capabilities.Interactive && not Console.IsErrorRedirected then
        Progress(err)
            .Columns(TaskDescriptionColumn(), ProgressBarColumn(), PercentageColumn(), RemainingTimeColumn())
            .Start(fun ctx ->
                let task = ctx.AddTask("extracting", maxValue = 1.0)
                extract (fun p ->
                    task.MaxValue <- float p.Total
                    task.Value <- float p.Done
                    task.Description <-
                        Markup.Escape(Path.GetFileName(Path.TrimEndingDirectorySeparator p.Outcome.Path))
                    match p.Outcome with
                    | Failed _ when not json -> err.MarkupLine("[red]{0}[/]", Markup.Escape(describe p.Outcome))
                    | _ -> ()))
    else
        extract (fun p -> eprintfn "[%d/%d] %s" p.Done p.Total (describe p.Outcome))

let printSummary (db: string) (outcomes: Outcome list) =
    let failed =
        outcomes
        |> List.choose (function
            | Failed(p, m) -> Some [ p; m ]
            | _ -> None)
    if not failed.IsEmpty then
        table [ "failed"; "problem" ] failed
    let models =
        outcomes
        |> List.sumBy (function
            | Stored(_, ids, _) -> ids.Length
            | _ -> 0)
    let storedPaths =
        outcomes
        |> List.filter (function
            | Stored _ -> true
            | _ -> false)
        |> List.length
    let skipped =
        outcomes
        |> List.filter (function
            | Skipped _ -> true
            | _ -> false)
        |> List.length
    printfn
        "%s: stored %d model(s) from %d path(s), skipped %d already catalogued, %d failed"
        db
        models
        storedPaths
        skipped
        failed.Length

/// With --enqueue or --workers: the files go to the catalog's work queue, and with --workers N local workers drain it.
let private viaQueue (args: ParseResults<ExtractArgs>) (db: string) task paths =
    let anyMissing = QueueCommand.enqueue db task (args.Contains Recursive) paths
    let code =
        match args.TryGetResult Workers with
        | Some n -> QueueCommand.runWorkers db n
        | None -> 0
    if anyMissing then 1 else code

let run (args: ParseResults<ExtractArgs>) =
    let db = args.GetResult(ExtractArgs.Db, defaultValue = Defaults.db)
    let json = args.Contains ExtractArgs.Json
    let task, paths = args.TryGetResult ExtractArgs.Task, args.GetResult Paths
    ExtractService.check task paths
    if args.Contains Enqueue || args.Contains Workers then
        viaQueue args db task paths
    else
        let extract = ExtractService.run db task (args.Contains Recursive) paths
        let outcomes = withProgress json extract
        if json then printJson (ExtractService.result db outcomes) else printSummary db outcomes
        if
            outcomes
            |> List.exists (function
                | Failed _ -> true
                | _ -> false)
        then
            1
        else
            0
