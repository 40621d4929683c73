// The structure tools on models of our own zoo: abstract architectures traced from the modules, the catalog,
// deduplication by architecture and the HTML report. Run: dotnet fsi scripts/structure_tour.fsx
#load "load.fsx"

open System.IO
open Hybrid.Analysis

let folder = Path.Combine(Path.GetTempPath(), "hybrid-structure-tour")
Directory.CreateDirectory folder |> ignore
let db = Path.Combine(folder, "tour.db")
for f in [ db; db + "-wal"; db + "-shm" ] do
    File.Delete f

// Trace a few zoo models into a fresh catalog (zoo:NAME works wherever a model path does).
let names = [ "cifar-resnet20"; "cifar-resnet32"; "cifar-vgg11-bn"; "mobilenet-v3-small" ]
let outcomes =
    use catalog = Catalog.openOrCreate db
    Extraction.run catalog (Some "image-classification") false [ for n in names -> "zoo:" + n ] ignore
for o in outcomes do
    printfn "%A" o

// Which of them are the same architecture at ALGORITHMS.md's threshold?
let result =
    use catalog = Catalog.openOrCreate db
    Dedup.run catalog "architecture" 0.85
for g in result.Groups do
    printfn "group %d: %s" g.Group (g.Members |> List.map (fun m -> $"{m.Name} {m.Score}") |> String.concat ", ")

// The structure report, from the catalog.
let index = Report.write (Path.Combine(folder, "report")) (ReportInputs.fromCatalog db)
printfn "report: %s" index
