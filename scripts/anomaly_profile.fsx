// Where `hybrid bench anomaly`'s time goes: the same 5-fold, 40-epoch cross-validation with mixtures (model_type at
// min class count 20), timed by part, with process CPU seconds beside wall seconds (on a shared, loaded machine CPU
// time moves far less than wall time). Run it under perf for a per-method profile:
//   DOTNET_EnableWriteXorExecute=0 DOTNET_PerfMapEnabled=1 perf record -g dotnet fsi scripts/anomaly_profile.fsx
// Argument: the trace file (default ../shared/data/peatmoss-traces/dev.jsonl).
#load "load.fsx"

open System.Diagnostics
open Hybrid.Core.Gpu
open Hybrid.Analysis
open Hybrid.Analysis.Naming

let data =
    fsi.CommandLineArgs
    |> Array.tryItem 1
    |> Option.defaultValue (
        System.IO.Path.Combine(__SOURCE_DIRECTORY__, "..", "..", "shared", "data", "peatmoss-traces", "dev.jsonl")
    )
let device = Device.Cpu
let settings = CrossValidation.defaults
let proc = Process.GetCurrentProcess()
let parts = System.Collections.Generic.Dictionary<string, float * float>()

/// Runs f, adding its wall and CPU seconds to the part's totals.
let timed (part: string) (f: unit -> 'a) =
    let cpu = proc.TotalProcessorTime
    let watch = Stopwatch.StartNew()
    let result = f ()
    proc.Refresh()
    let wall0, cpu0 =
        match parts.TryGetValue part with
        | true, v -> v
        | _ -> 0.0, 0.0
    parts[part] <- wall0 + watch.Elapsed.TotalSeconds, cpu0 + (proc.TotalProcessorTime - cpu).TotalSeconds
    result

let models = timed "read traces" (fun () -> FromTraces.read data)
let labels = Labels.assign Labels.ModelType 20 models
let classes = labels.Classes.Length
let terms = timed "n-grams" (fun () -> models |> List.map (NGrams.terms settings.Features) |> Array.ofList)
let folds = Folds.stratified settings.Folds 0 labels.Targets labels.Singletons
for test in folds do
    let rows = Folds.trainingRows labels.Targets.Length test
    let vocabulary, x =
        timed "vocabulary and vectors" (fun () ->
            let v =
                Vocabulary.build settings.Features settings.Scaling settings.MinDocuments [ for r in rows -> terms[r] ]
            v, rows |> Array.map (fun r -> Vocabulary.vectorise v terms[r]))
    let y = rows |> Array.map (fun r -> labels.Targets[r])
    let model =
        timed "classifier: 40 epochs" (fun () ->
            Classifier.train device settings.Classifier vocabulary.Terms.Length classes x y)
    let embeddings = timed "training embeddings" (fun () -> Classifier.embeddings model x)
    let mixtures =
        timed "mixtures: BIC fits" (fun () -> Mixtures.fit device settings.Mixtures.Value classes embeddings y)
    let fitted: CrossValidation.Fitted = { Vocabulary = vocabulary; Model = model; Mixtures = Some mixtures }
    timed "test part: predictions and mixture scores" (fun () ->
        CrossValidation.apply
            device
            fitted
            (test |> Array.map (fun r -> terms[r]))
            (test |> Array.map (fun r -> Some labels.Targets[r])))
    |> ignore

printfn "%-45s %8s %8s" "part" "wall s" "CPU s"
for KeyValue(part, (wall, cpu)) in parts do
    printfn "%-45s %8.2f %8.2f" part wall cpu
printfn "%-45s %8.2f %8.2f" "total" (parts.Values |> Seq.sumBy fst) (parts.Values |> Seq.sumBy snd)
