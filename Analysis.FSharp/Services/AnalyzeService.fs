/// `analyze`: the structure report over a set of models (ALGORITHMS.md section 3), written to a folder, with a result
/// record describing it.
module Hybrid.Analysis.AnalyzeService

open System
open System.IO
open System.Text.Json.Serialization

/// Where the models of a report come from.
type Source =
    /// Every model of the catalog at this path.
    | FromCatalog of db: string
    /// These files and folders, with a task that overrides their declared ones.
    | FromPaths of task: string option * paths: string list

type AnalyzeResult =
    {
        /// The report's index.html.
        Index: string
        Out: string
        Models: int
        Layers: int
        Tasks: string list
        /// Every file of the report, relative to its folder, in ordinal order.
        Files: string[]
        /// The models reported on, for a summary table.
        [<JsonIgnore>]
        Reported: Structure.ReportModel list
    }

/// Reads the models of source and writes their report into out (replacing an earlier report there).
let run (source: Source) (out: string) =
    let models =
        match source with
        | FromCatalog db -> ReportInputs.fromCatalog db
        | FromPaths(task, paths) -> ReportInputs.fromPaths task paths
    // Files that hold no model (an empty trace file) leave nothing to report on.
    if models.IsEmpty then
        raise (Hybrid.Core.Nn.InputException("analyze", "no models to analyze"))
    let index =
        try
            Report.write out models
        with
        | :? IOException
        | :? UnauthorizedAccessException as e -> Input.fail "analyze: cannot write the report to %s: %s" out e.Message
    let dir = Path.GetDirectoryName index
    { Index = index
      Out = out
      Models = models.Length
      Layers = models |> List.sumBy _.Architecture.Nodes.Length
      Tasks = models |> List.map _.Task |> List.distinct |> List.sort
      Files =
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
        |> Array.map (fun f -> Path.GetRelativePath(dir, f))
        |> Array.sort
      Reported = models }
