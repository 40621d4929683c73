/// Printing shared by the commands: headings and tables through Spectre.Console, notes on standard error.
module Hybrid.Cli.Console

open System
open Spectre.Console

let heading (text: string) = AnsiConsole.MarkupLine("\n[bold]{0}[/]", Markup.Escape text)

let table (columns: string list) (rows: string list list) =
    let t = Table().Border(TableBorder.Rounded)
    for c in columns do
        t.AddColumn(TableColumn(Markup.Escape c)) |> ignore
    for r in rows do
        t.AddRow(r |> List.map Markup.Escape |> List.toArray) |> ignore
    AnsiConsole.Write t

let note (text: string) = Console.Error.WriteLine text

/// A command's result record as one line of JSON on standard output (see Hybrid.Analysis.Json).
let printJson (result: 'T) = printfn "%s" (Hybrid.Analysis.Json.serialize result)

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
            if doneCount >= total then
                eprintfn ""

/// The progress of an epoch loop on standard error: a note when it resumes from `checkpoint`, a progress line for the
/// batches that `shown` picks (by batch index and batches per epoch), and `epochLine` of each finished epoch.
let epochProgress (command: string) (checkpoint: string) (shown: int -> int -> bool) (epochLine: 'epoch -> string) =
    let batchProgress = progressLine command
    fun (p: Hybrid.Analysis.Training.EpochProgress<'epoch>) ->
        match p with
        | Hybrid.Analysis.Training.Resumed epochs ->
            note $"{command}: resuming from {checkpoint} after {epochs} finished epoch(s)"
        | Hybrid.Analysis.Training.BatchDone(_, index, count, _) ->
            if shown index count then
                batchProgress (index + 1) count
        | Hybrid.Analysis.Training.EpochDone e -> note (epochLine e)
