/// The deterministic structural comparison of two indexed models, in place of the published system's GPT paragraph:
/// per stage (the first segment of a module path: conv1, layer1, ..., linear), the modules added, removed or changed
/// (type, output shape or own parameters) from model a to model b, the parameter counts, and sentences that say it.
module Hybrid.Analysis.StructuralDiff

open System
open System.Globalization

/// One stage of the two models.
type StageDiff =
    {
        Stage: string
        ParametersA: int64
        ParametersB: int64
        /// Module paths in b only.
        Added: string list
        /// Module paths in a only.
        Removed: string list
        /// Module paths in both whose type, output shape or own parameters differ, with what differs.
        Changed: string list
    }

/// Every stage in the order the models run them, and a summary sentence per model and per stage that differs.
type Diff = { Stages: StageDiff list; Summary: string list }

let private stageOf (path: string) =
    match path.IndexOf '.' with
    | -1 -> path
    | i -> path.Substring(0, i)

let private count (n: int64) = n.ToString("N0", CultureInfo.InvariantCulture)

let private shape (s: int64[]) = String.Join("x", s)

let private difference (a: CkaLayerRow) (b: CkaLayerRow) =
    [ if a.LayerType <> b.LayerType then
          $"type {a.LayerType} -> {b.LayerType}"
      if a.OutputShape <> b.OutputShape then
          $"output {shape a.OutputShape} -> {shape b.OutputShape}"
      if a.Parameters <> b.Parameters then
          $"parameters {a.Parameters} -> {b.Parameters}" ]

/// Names at most five paths, then how many more.
let private some (paths: string list) =
    let shown = paths |> List.truncate 5 |> String.concat ", "
    if paths.Length > 5 then $"{shown}, ... ({paths.Length} in all)" else shown

/// Compares a's layers with b's (each in forward order), stage by stage.
let compare (nameA: string) (a: CkaLayerRow list) (nameB: string) (b: CkaLayerRow list) =
    let byPath (rows: CkaLayerRow list) = rows |> List.map (fun l -> l.Layer, l) |> Map.ofList
    let pathsA, pathsB = byPath a, byPath b
    // Stages in the order they first run, a's first, then any that only b has.
    let stages = (a @ b) |> List.map (fun l -> stageOf l.Layer) |> List.distinct
    let inStage stage (rows: CkaLayerRow list) = rows |> List.filter (fun l -> stageOf l.Layer = stage)
    let diffs =
        [ for stage in stages ->
              let sa, sb = inStage stage a, inStage stage b
              { Stage = stage
                ParametersA = sa |> List.sumBy _.ParameterCount
                ParametersB = sb |> List.sumBy _.ParameterCount
                Added = sb |> List.filter (fun l -> not (pathsA.ContainsKey l.Layer)) |> List.map _.Layer
                Removed = sa |> List.filter (fun l -> not (pathsB.ContainsKey l.Layer)) |> List.map _.Layer
                Changed =
                  [ for l in sa do
                        match pathsB.TryFind l.Layer with
                        | Some other ->
                            match difference l other with
                            | [] -> ()
                            | what -> $"""{l.Layer} ({String.Join("; ", what)})"""
                        | None -> () ] } ]
    let total (rows: CkaLayerRow list) = rows |> List.sumBy _.ParameterCount
    let overall =
        $"{nameA} has {a.Length} indexed layers and {count (total a)} parameters; {nameB} has {b.Length} and {count (total b)}."
    let sentences =
        [ for d in diffs do
              if not (d.Added.IsEmpty && d.Removed.IsEmpty && d.Changed.IsEmpty) then
                  let parts =
                      [ if not d.Added.IsEmpty then
                            $"{nameB} adds {d.Added.Length} ({some d.Added})"
                        if not d.Removed.IsEmpty then
                            $"{nameB} lacks {d.Removed.Length} ({some d.Removed})"
                        if not d.Changed.IsEmpty then
                            $"{d.Changed.Length} changed ({some d.Changed})" ]
                  let parameters =
                      if d.ParametersA = d.ParametersB then
                          $"{count d.ParametersA} parameters in both"
                      else
                          $"parameters {count d.ParametersA} -> {count d.ParametersB}"
                  $"""{d.Stage}: {String.Join("; ", parts)}; {parameters}.""" ]
    let same =
        if sentences.IsEmpty then
            [ "The two models have the same modules, types, output shapes and parameter shapes." ]
        else
            []
    { Stages = diffs; Summary = overall :: sentences @ same }
