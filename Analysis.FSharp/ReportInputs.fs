/// Where the models of a structure report come from: the catalog (what `hybrid extract` stored) or files read directly
/// with the extractor (Extract.fromPath), so both give the same normalised layer vocabulary.
module Hybrid.Analysis.ReportInputs

open System.Collections.Generic
open Hybrid.Core.Nn
open Hybrid.Analysis.Architecture
open Hybrid.Analysis.Structure

/// A report model for an architecture: the base name is the declared model_type when there is one (trace lines, Hugging
/// Face folders), else the name with version and size suffixes stripped (Dedup.baseName); the task is the given one,
/// else the declared one, else "unknown".
let ofArchitecture (id: string) (task: string option) (arch: Architecture) =
    let task = task |> Option.orElse arch.Labels.Task |> Option.defaultValue "unknown"
    { Id = id
      BaseName = arch.Labels.ModelType |> Option.defaultWith (fun () -> Dedup.baseName arch.Name)
      Task = task
      Architecture = { arch with Labels = { arch.Labels with Task = Some task } } }

/// Ids must be unique in a report: repeats get " (2)", " (3)", ... in input order.
let private uniqueIds (models: ReportModel list) =
    let seen = Dictionary<string, int>()
    [ for m in models ->
          let n =
              (match seen.TryGetValue m.Id with
               | true, k -> k
               | _ -> 0)
              + 1
          seen[m.Id] <- n
          if n = 1 then m else { m with Id = $"{m.Id} ({n})" } ]

/// Report models from model files and folders (anything Extract.fromPath reads); `task` overrides the declared tasks.
/// The first file that cannot be read stops the report with its InputException.
let fromPaths (task: string option) (paths: string list) =
    [ for path in paths do
          for arch in Extract.fromPath path -> ofArchitecture arch.Name task arch ]
    |> uniqueIds

/// Every model of the catalog at `db`, with the task it was stored with.
let fromCatalog (db: string) =
    if not (Catalog.exists db) then
        raise (InputException(db, "no catalog here: run hybrid extract first"))
    use catalog = Catalog.openOrCreate db
    let rows = Catalog.models catalog
    if rows.IsEmpty then
        raise (InputException(db, "the catalog holds no models: run hybrid extract first"))
    [ for row in rows -> ofArchitecture row.Name row.Task (Catalog.load catalog row.Id) ] |> uniqueIds
