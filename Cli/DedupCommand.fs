/// `hybrid dedup --strategy name|architecture|both`: groups of duplicate models in the catalog, each with its
/// representative, stored in the catalog's dedup table and printed.
module Hybrid.Cli.DedupCommand

open System.IO
open System.Text.Json
open Argu
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private scoreText (score: float option) =
    match score with
    | Some s -> sprintf "%.4f" s
    | None -> "-"

let private printJson (result: Dedup.Result) (models: int) =
    let memberDoc (m: Dedup.Member) =
        dict [ "id", box m.Id; "name", box m.Name; "score", box (Option.toNullable m.Score) ]
    dict [ "strategy", box result.Strategy; "threshold", box (Option.toNullable result.Threshold)
           "models", box models; "scored_pairs", box result.Scored
           "groups",
           box [ for g in result.Groups ->
                   dict [ "group", box g.Group; "representative", box g.Representative
                          "members", box (g.Members |> List.map memberDoc) ] ]
           "pairs", box [ for p in result.Pairs -> dict [ "a", box p.A; "b", box p.B; "score", box p.Score ] ] ]
    |> fun doc -> printfn "%s" (JsonSerializer.Serialize doc)

let printTables (result: Dedup.Result) (models: int) =
    let duplicates = result.Groups |> List.filter (fun g -> g.Members.Length > 1)
    let at = result.Threshold |> Option.map (sprintf " at %g") |> Option.defaultValue ""
    let name id = result.Groups |> List.collect _.Members |> List.find (fun m -> m.Id = id) |> _.Name
    heading $"dedup by {result.Strategy}{at}: {models} models, {result.Groups.Length} distinct, {duplicates.Length} group(s) of duplicates"
    if not duplicates.IsEmpty then
        table [ "group"; "representative"; "members (similarity to the representative)" ]
            [ for g in duplicates ->
                [ string g.Group; $"{name g.Representative} (#{g.Representative})"
                  g.Members |> List.map (fun m -> $"{m.Name} (#{m.Id}) {scoreText m.Score}") |> String.concat ", " ] ]
    if not result.Pairs.IsEmpty then
        table [ "model"; "model"; "similarity" ]
            [ for p in result.Pairs -> [ $"{name p.A} (#{p.A})"; $"{name p.B} (#{p.B})"; sprintf "%.4f" p.Score ] ]
    if result.Strategy <> "name" then note $"{result.Scored} pairs of different structural hash scored"

let run (args: ParseResults<DedupArgs>) =
    let db = args.GetResult(DedupArgs.Db, defaultValue = "hybrid.db")
    if not (File.Exists db) then fail "dedup: no catalog at %s (hybrid extract creates it)" db
    let threshold = args.GetResult(Threshold, defaultValue = 0.85)
    if not (threshold > 0.0 && threshold <= 1.0) then fail "dedup: --threshold %g is outside (0, 1]" threshold
    let strategy =
        match args.GetResult Strategy with
        | DedupStrategy.Name -> "name"
        | DedupStrategy.Architecture -> "architecture"
        | DedupStrategy.Both -> "both"
    use catalog = Catalog.openOrCreate db
    let models = (Catalog.counts catalog)["models"] |> int
    if models = 0 then fail "dedup: the catalog %s holds no models (run hybrid extract first)" db
    let result = Dedup.run catalog strategy threshold
    if args.Contains DedupArgs.Json then printJson result models else printTables result models
    0
