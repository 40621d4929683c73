/// `hybrid dedup --strategy name|architecture|both`: groups of duplicate models in the catalog, each with its
/// representative, stored in the catalog's dedup table and printed.
module Hybrid.Cli.DedupCommand

open Argu
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private scoreText (score: float option) =
    match score with
    | Some s -> sprintf "%.4f" s
    | None -> "-"

let printTables (result: DedupService.DedupResult) =
    let models = result.Models
    let duplicates = result.Groups |> List.filter (fun g -> g.Members.Length > 1)
    let at = result.Threshold |> Option.map (sprintf " at %g") |> Option.defaultValue ""
    let name id = result.Groups |> List.collect _.Members |> List.find (fun m -> m.Id = id) |> _.Name
    heading
        $"dedup by {result.Strategy}{at}: {models} models, {result.Groups.Length} distinct, {duplicates.Length} group(s) of duplicates"
    if not duplicates.IsEmpty then
        table
            [ "group"; "representative"; "members (similarity to the representative)" ]
            [ for g in duplicates ->
                  [ string g.Group
                    $"{name g.Representative} (#{g.Representative})"
                    g.Members |> List.map (fun m -> $"{m.Name} (#{m.Id}) {scoreText m.Score}") |> String.concat ", " ] ]
    if not result.Pairs.IsEmpty then
        table
            [ "model"; "model"; "similarity" ]
            [ for p in result.Pairs -> [ $"{name p.A} (#{p.A})"; $"{name p.B} (#{p.B})"; sprintf "%.4f" p.Score ] ]
    if result.Strategy <> "name" then
        note $"{result.ScoredPairs} pairs of different structural hash scored"

let run (args: ParseResults<DedupArgs>) =
    let strategy =
        match args.GetResult Strategy with
        | DedupStrategy.Name -> "name"
        | DedupStrategy.Architecture -> "architecture"
        | DedupStrategy.Both -> "both"
    let result =
        DedupService.run
            (args.GetResult(DedupArgs.Db, defaultValue = Defaults.db))
            strategy
            (args.GetResult(Threshold, defaultValue = Defaults.dedup.Threshold))
    if args.Contains DedupArgs.Json then printJson result else printTables result
    0
