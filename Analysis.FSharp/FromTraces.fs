/// Architectures from trace files in JSON Lines, one model per line as in PeaTMOSS
/// ({"repo_name", "model_type", "arch", "task", "layers": "input conv2d ... output"}): each line becomes a chain of
/// normalised layers (the trace records the order ops ran, not which op fed which), labelled from the line.
module Hybrid.Analysis.FromTraces

open System.IO
open System.Text.Json
open Hybrid.Core.Nn
open Hybrid.Analysis.Architecture

/// The trace's markers for the graph's ends; they are not layers.
let private markers = set [ "input"; "output" ]

let private optionalString (root: JsonElement) (name: string) =
    match root.TryGetProperty name with
    | true, v when v.ValueKind = JsonValueKind.String -> Ok(Some(v.GetString()))
    | true, v when v.ValueKind = JsonValueKind.Null -> Ok None
    | false, _ -> Ok None
    | true, v -> Error $"\"{name}\" is {v.ValueKind}, not a string"

/// One line's architecture, or the problem with it.
let parseLine (text: string) : Result<Architecture, string> =
    try
        use doc = JsonDocument.Parse text
        let root = doc.RootElement
        if root.ValueKind <> JsonValueKind.Object then
            Error $"a {root.ValueKind}, not a JSON object"
        else
            let fields = [ "repo_name"; "layers"; "model_type"; "arch"; "task" ] |> List.map (optionalString root)
            let value i =
                match fields[i] with
                | Ok v -> v
                | Error _ -> None
            match
                fields
                |> List.tryPick (function
                    | Error m -> Some m
                    | Ok _ -> None),
                value 0,
                value 1
            with
            | Some problem, _, _ -> Error problem
            | None, None, _ -> Error "no \"repo_name\""
            | None, _, None -> Error "no \"layers\""
            | None, Some repo, Some layers ->
                let tokens =
                    layers.Split(' ', System.StringSplitOptions.RemoveEmptyEntries)
                    |> Array.filter (markers.Contains >> not)
                if tokens.Length = 0 then
                    Error $"\"layers\" of {repo} holds no layers"
                else
                    let nodes =
                        tokens
                        |> Array.mapi (fun i token ->
                            { Id = i
                              Name = $"{token}_{i}"
                              LayerType = LayerTypes.normalise token None
                              Original = token
                              Attributes = Map.empty
                              Parameters = []
                              OutputShape = None
                              ModulePath = "" })
                    Ok
                        { Name = repo
                          Format = "trace"
                          Labels = { ModelType = value 2; Architectures = Option.toList (value 3); Task = value 4 }
                          Nodes = nodes
                          Edges = Array.init (nodes.Length - 1) (fun i -> i, i + 1)
                          Hierarchy = []
                          Pruned = []
                          OriginalOps = tokens |> Array.countBy id |> Map.ofArray }
    with :? JsonException as e ->
        Error $"not valid JSON ({e.Message})"

/// Every non-blank line of a JSON Lines file, in order: the architecture, or an InputException naming the file and
/// the line number. A missing or unreadable file raises InputException.
let readAll (path: string) : Result<Architecture, exn> list =
    let lines =
        try
            File.ReadAllLines path
        with
        | :? IOException
        | :? System.UnauthorizedAccessException as e -> raise (InputException(path, e.Message))
    [ for i in 0 .. lines.Length - 1 do
          if not (System.String.IsNullOrWhiteSpace lines[i]) then
              match parseLine lines[i] with
              | Ok architecture -> Ok architecture
              | Error problem -> Error(InputException(path, $"line {i + 1}: {problem}")) ]

/// Every line's architecture; the first broken line raises its InputException (strict reading).
let read (path: string) : Architecture list =
    readAll path
    |> List.map (function
        | Ok a -> a
        | Error e -> raise e)
