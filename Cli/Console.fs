/// Printing shared by the commands: user errors as one line, tables through Spectre.Console.
module Hybrid.Cli.Console

open System
open Spectre.Console

/// An error caused by the user's input: printed as one line, exit code 1, no stack trace.
exception UserError of string

let fail fmt = Printf.kprintf (fun message -> raise (UserError message)) fmt

let heading (text: string) = AnsiConsole.MarkupLine("\n[bold]{0}[/]", Markup.Escape text)

let table (columns: string list) (rows: string list list) =
    let t = Table().Border(TableBorder.Rounded)
    for c in columns do t.AddColumn(TableColumn(Markup.Escape c)) |> ignore
    for r in rows do t.AddRow(r |> List.map Markup.Escape |> List.toArray) |> ignore
    AnsiConsole.Write t

let note (text: string) = Console.Error.WriteLine text
