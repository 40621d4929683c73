/// `extract`: architectures of model files and folders into the catalog, as a result record.
module Hybrid.Analysis.ExtractService

open Hybrid.Analysis.Extraction

type StoredResult = { Path: string; Ids: int64 list; Names: string list }

type SkippedResult = { Path: string; Ids: int64 list }

type FailedResult = { Path: string; Error: string }

type ExtractSummary = { Paths: int; StoredPaths: int; StoredModels: int; Skipped: int; Failed: int }

type ExtractResult =
    { Db: string
      Stored: StoredResult list
      Skipped: SkippedResult list
      Failed: FailedResult list
      Summary: ExtractSummary }

/// Refuses a run with nothing to extract or an empty task (run checks this too; a caller that shows progress checks
/// first, so the error comes before any progress display).
let check (task: string option) (paths: string list) =
    if paths.IsEmpty then
        Input.fail "extract: name at least one file or folder"
    if task |> Option.exists System.String.IsNullOrWhiteSpace then
        Input.fail "extract: --task must not be empty"

/// Extracts the models under paths into the catalog at db (created when missing), skipping content already there;
/// task, when given, is stored as every model's task. onProgress sees each outcome in path order.
let run (db: string) (task: string option) (recursive: bool) (paths: string list) (onProgress: Progress -> unit) =
    check task paths
    use catalog = Catalog.openOrCreate db
    Extraction.run catalog task recursive paths onProgress

/// The result of a run that gave these outcomes.
let result (db: string) (outcomes: Outcome list) =
    let stored =
        outcomes
        |> List.choose (function
            | Stored(p, ids, names) -> Some { StoredResult.Path = p; Ids = ids; Names = names }
            | _ -> None)
    let skipped =
        outcomes
        |> List.choose (function
            | Skipped(p, ids) -> Some { SkippedResult.Path = p; Ids = ids }
            | _ -> None)
    let failed =
        outcomes
        |> List.choose (function
            | Failed(p, m) -> Some { FailedResult.Path = p; Error = m }
            | _ -> None)
    { Db = db
      Stored = stored
      Skipped = skipped
      Failed = failed
      Summary =
        { Paths = outcomes.Length
          StoredPaths = stored.Length
          StoredModels = stored |> List.sumBy _.Ids.Length
          Skipped = skipped.Length
          Failed = failed.Length } }
