/// Printing shared by the commands: user errors as one line, tables through Spectre.Console.
module Hybrid.Cli.Console

open System
open Spectre.Console

/// Refuses the user's input with Core.Nn's one user-facing error: printed as one line, exit code 1, no stack trace.
/// The message starts with what is at fault (the command and flag, or the file).
let fail fmt =
    Printf.kprintf
        (fun (message: string) ->
            match message.IndexOf ": " with
            | i when i > 0 -> raise (Hybrid.Core.Nn.InputException(message.Substring(0, i), message.Substring(i + 2)))
            | _ -> raise (Hybrid.Core.Nn.InputException("hybrid", message)))
        fmt

let heading (text: string) = AnsiConsole.MarkupLine("\n[bold]{0}[/]", Markup.Escape text)

let table (columns: string list) (rows: string list list) =
    let t = Table().Border(TableBorder.Rounded)
    for c in columns do t.AddColumn(TableColumn(Markup.Escape c)) |> ignore
    for r in rows do t.AddRow(r |> List.map Markup.Escape |> List.toArray) |> ignore
    AnsiConsole.Write t

let note (text: string) = Console.Error.WriteLine text
