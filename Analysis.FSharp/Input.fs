/// User mistakes as Core.Nn's one user-facing error (InputException), raised where user input enters Analysis: a
/// command line, an HTTP request or a script each show its message as one line, and anything else that escapes is a bug.
module Hybrid.Analysis.Input

open System
open Hybrid.Core.Nn

/// An InputException whose message is exactly `message`: the subject is the text before its first ": " (the command
/// and flag, or the file), or `subject` when it has none.
let error (subject: string) (message: string) =
    match message.IndexOf ": " with
    | i when i > 0 -> InputException(message.Substring(0, i), message.Substring(i + 2))
    | _ -> InputException(subject, message)

/// Refuses the user's input with a formatted message that starts with what is at fault (see error).
let fail fmt = Printf.kprintf (fun message -> raise (error "hybrid" message)) fmt

/// Runs a Core library call on data the user gave: the library validates its arguments once at its public edge and
/// throws ArgumentException with the shapes in the message, which is the user's mistake here, so it becomes an
/// InputException with that message (without .NET's " (Parameter 'name')", which means nothing to a user), whose
/// subject is `subject` when the message does not start with one.
let guard (subject: string) (call: unit -> 'a) =
    try
        call ()
    with :? ArgumentException as e ->
        let message = if isNull e.ParamName then e.Message else e.Message.Replace($" (Parameter '{e.ParamName}')", "")
        raise (error subject message)

/// The value one of whose names is `text` (trimmed, in any case), from a closed set of choices given as each value with
/// its names; anything else is refused as `flag`'s mistake, listing every value's first name.
let parseChoice (flag: string) (what: string) (choices: ('a * string list) list) (text: string) =
    let key = text.Trim().ToLowerInvariant()
    match choices |> List.tryFind (fun (_, names) -> List.contains key names) with
    | Some(value, _) -> value
    | None ->
        let first = choices |> List.map (snd >> List.head)
        let expected = String.Join(", ", List.take (first.Length - 1) first) + " or " + List.last first
        raise (InputException(flag, $"unknown {what} '{key}': expected {expected}"))

/// The name a value of a closed set of choices is written with: the first of its names (see parseChoice).
let choiceName (choices: ('a * string list) list) (value: 'a) =
    choices |> List.find (fun (v, _) -> v = value) |> snd |> List.head
