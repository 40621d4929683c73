/// The structure stage of `hybrid demo`: the zoo's image architectures (traced from our own modules) and the model
/// files the training stage wrote are extracted into a fresh catalog, deduplicated by architecture, and analysed
/// into a report whose path ends the stage.
module Hybrid.Cli.DemoStructure

open System.IO
open Hybrid.Analysis
open Hybrid.Cli.Console

let run (folder: string) =
    let zoo =
        Hybrid.Core.Nn.Zoo.Zoo.ImageNames |> Seq.map (fun n -> Extract.zooPrefix + n) |> List.ofSeq
    let trained =
        [ "small-cnn.safetensors"; "small-cnn.pt"; "small-cnn.onnx" ]
        |> List.map (fun f -> Path.Combine(folder, f)) |> List.filter File.Exists
    heading $"Stage 5: structure of {zoo.Length} zoo architectures and the {trained.Length} files of stage 4: catalog, dedup, report"
    let db = Path.Combine(folder, "hybrid.db")
    // A fresh catalog each time: the demo shows extraction, not skipping.
    for f in [ db; db + "-wal"; db + "-shm" ] do File.Delete f
    let outcomes =
        use catalog = Catalog.openOrCreate db
        // Every model here classifies images; the files of stage 4 carry no task of their own.
        Extraction.run catalog (Some "image-classification") false (zoo @ trained) ignore
    ExtractCommand.printSummary db outcomes
    let result =
        use catalog = Catalog.openOrCreate db
        Dedup.run catalog "architecture" 0.85
    DedupCommand.printTables result outcomes.Length
    let models = ReportInputs.fromCatalog db
    let index = Report.write (Path.Combine(folder, "report")) models
    AnalyzeCommand.summary index models
    index
