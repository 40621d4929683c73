/// The structure stage of `hybrid demo`: the zoo's image architectures (traced from our own modules) and the model
/// files the training stage wrote are extracted into a fresh catalog, deduplicated by architecture, and analysed
/// into a report whose path ends the stage.
module Hybrid.Cli.DemoStructure

open System.IO
open Hybrid.Analysis
open Hybrid.Cli.Console

let run (folder: string) =
    let zoo = Hybrid.Core.Nn.Zoo.Zoo.ImageNames |> Seq.map (fun n -> Extract.zooPrefix + n) |> List.ofSeq
    let trained =
        [ "small-cnn.safetensors"; "small-cnn.pt"; "small-cnn.onnx" ]
        |> List.map (fun f -> Path.Combine(folder, f))
        |> List.filter File.Exists
    heading
        $"Stage 5: structure of {zoo.Length} zoo architectures and the {trained.Length} files of stage 4: catalog, dedup, report"
    let db = Path.Combine(folder, Catalog.defaultPath)
    // A fresh catalog each time: the demo shows extraction, not skipping.
    for f in [ db; db + "-wal"; db + "-shm" ] do
        File.Delete f
    // Every model here classifies images; the files of stage 4 carry no task of their own.
    let outcomes = ExtractService.run db (Some "image-classification") false (zoo @ trained) ignore
    ExtractCommand.printSummary db outcomes
    DedupCommand.printTables (DedupService.run db "architecture" DedupService.DefaultThreshold)
    let report = AnalyzeService.run (AnalyzeService.FromCatalog db) (Path.Combine(folder, "report"))
    AnalyzeCommand.printSummary report
    report.Index
