// A naming-anomaly study (DARA) from a script: features, cross-validation, a small grid search and the ranked list of
// suspicious models. Run `./hybrid --version` once (it builds), then
// `dotnet fsi scripts/naming_study.fsx TRACES.jsonl [model_type|arch|task] [MIN_CLASS_COUNT]` on a trace file in
// PeaTMOSS's form (one model per line: repo_name, model_type, arch, task, layers). Copy it and edit: every number
// here comes from a seed.
#load "load.fsx"

open Hybrid.Core.Gpu
open Hybrid.Analysis
open Hybrid.Analysis.Naming

let args = Load.scriptArgs 1 "dotnet fsi scripts/naming_study.fsx TRACES.jsonl [model_type|arch|task] [MIN_CLASS_COUNT]"
let field = Load.argOr args 1 Labels.parseField Labels.ModelType
let minClassCount = Load.argOr args 2 int 20
let device = Device.Parse "auto"

// 1. Models, classes and features: DARA's 2-grams over edges and 1-grams of layers, here over the traced names.
let models = FromTraces.read args[0]
let labels = Labels.assign field minClassCount models
printfn
    "%d models, %d classes of %s at min class count %d (%d labels merged into Others, %d classes of one model)"
    models.Length
    labels.Classes.Length
    (Labels.fieldName field)
    minClassCount
    labels.Merged.Length
    labels.Singletons.Length
let study = CrossValidation.defaults
let terms = models |> List.map (NGrams.terms study.Features) |> Array.ofList
printfn "distinct n-grams over all models: %d" (terms |> Seq.collect _.Keys |> Seq.distinct |> Seq.length)

// 2. Cross-validation: DARA as published (raw counts of normalised types) against Hybrid's defaults.
let crossValidate (settings: CrossValidation.Settings) =
    let terms = models |> List.map (NGrams.terms settings.Features) |> Array.ofList
    CrossValidation.run device settings labels.Classes.Length 0 terms labels.Targets labels.Singletons ignore
for name, settings in [ "DARA as published", CrossValidation.published; "Hybrid's defaults", study ] do
    let r = crossValidate settings
    printfn "%-18s 5-fold accuracy %.3f, macro-F1 %.3f" name r.MeanAccuracy r.MeanMacroF1

// 3. A small grid over learning rate, epochs, width and dropout, scored by the folds (without mixtures: they do not
// change the predictions).
let grid =
    [ for lr in [ 1e-3; 3e-3 ] do
          for epochs in [ 40; 80 ] do
              for width in [ 512; 256 ] do
                  for dropout in [ 0.5; 0.2 ] ->
                      { study with
                          Mixtures = None
                          Classifier =
                              { study.Classifier with
                                  LearningRate = lr
                                  Epochs = epochs
                                  StepEvery = max 1 (epochs * 3 / 4)
                                  Widths = [ width; width / 2; width / 4 ]
                                  Dropout = dropout } } ]
let scored = grid |> List.map (fun s -> s, crossValidate s)
for s, r in scored |> List.sortByDescending (fun (_, r) -> r.MeanAccuracy) |> List.truncate 5 do
    let c = s.Classifier
    printfn
        "lr %g, %d epochs, width %d, dropout %.1f: accuracy %.3f, macro-F1 %.3f"
        c.LearningRate
        c.Epochs
        c.Widths.Head
        c.Dropout
        r.MeanAccuracy
        r.MeanMacroF1
let best = scored |> List.maxBy (fun (_, r) -> r.MeanAccuracy) |> fst

// 4. The ranked anomaly list: out-of-fold results of the best settings, with mixtures, most suspicious first.
let r = crossValidate { best with Mixtures = study.Mixtures }
let names = models |> List.map _.Name |> Array.ofList
printfn "\nmost suspicious declared labels (out of fold):"
for p in r.Predictions |> List.sortBy _.DeclaredProbability |> List.truncate 15 do
    printfn
        "%-50s declared %-14s predicted %-14s p(declared) %.3f flagged %b"
        names[p.Row]
        labels.Classes[labels.Targets[p.Row]]
        labels.Classes[p.Predicted]
        p.DeclaredProbability
        (Flags.flagged Flags.defaults p)
