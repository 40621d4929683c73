/// `anomaly train` and `anomaly check`: naming-anomaly detection (DARA) as result records. Train cross-validates the
/// classifier with its class mixtures on labelled models and writes the classifier folder; check predicts each model's
/// label from its architecture and flags the models whose declared label the classifier and the mixtures reject.
module Hybrid.Analysis.AnomalyService

open System.IO
open Hybrid.Core.Gpu
open Hybrid.Analysis.Architecture
open Hybrid.Analysis.Naming

/// Every model of the catalog at db (which must exist), with its stored labels.
let catalogModels (db: string) =
    if not (Catalog.exists db) then
        Input.fail "%s: no catalog there (hybrid extract creates it)" db
    use catalog = Catalog.openOrCreate db
    [ for row in Catalog.models catalog -> Catalog.load catalog row.Id ]

/// The labelled models of trace files (JSON Lines; a broken line raises InputException naming the file and line)
/// and of a catalog.
let trainingModels (data: string list) (db: string option) =
    let models = (data |> List.collect FromTraces.read) @ (db |> Option.map catalogModels |> Option.defaultValue [])
    if models.IsEmpty then
        Input.fail "anomaly train: no models (give --data FILE.jsonl or --db CATALOG)"
    models

type TrainRequest =
    { Field: Labels.Field
      MinClassCount: int
      Seed: int
      Settings: CrossValidation.Settings
      Rule: Flags.Rule
      Out: string }

type TrainResult =
    {
        Label: string
        MinClassCount: int
        Models: int
        Classes: string[]
        /// Labels merged into Others, as "label (count)".
        Merged: string list
        /// Models whose class holds no other: trained on, never tested.
        Singletons: string list
        Folds: CrossValidation.Fold list
        MeanAccuracy: float
        MeanMacroF1: float
        /// Out of fold, the share of models the rule flags (with and without mixtures).
        FlaggedShare: float
        FlaggedShareWithoutMixtures: float
        /// Terms of the final vocabulary (all models).
        Features: int
        Seed: int
        Out: string
    }

/// Cross-validates, trains the final classifier on every model and writes the classifier folder with its charts.
let train (device: Device) (request: TrainRequest) (models: Architecture list) (onFold: CrossValidation.Fold -> unit) =
    let labels = Labels.assign request.Field request.MinClassCount models
    if labels.Classes.Length < 2 then
        Input.fail
            "anomaly train: one class (%s) after merging classes under --min-class-count %d: nothing to tell apart"
            labels.Classes[0]
            request.MinClassCount
    let terms = NGrams.termsOfAll request.Settings.Features models
    let settings = request.Settings
    let cv =
        CrossValidation.run
            device
            settings
            labels.Classes.Length
            request.Seed
            terms
            labels.Targets
            labels.Singletons
            onFold
    let all = Array.init terms.Length id
    let fitted = CrossValidation.fit device settings labels.Classes.Length terms labels.Targets all
    ClassifierFiles.save request.Out request.Field request.MinClassCount labels.Classes fitted
    let tested = cv.Predictions |> Array.ofList
    AnomalyCharts.confusion
        (Path.Combine(request.Out, "confusion.html"))
        labels.Classes
        (tested |> Array.map (fun p -> labels.Targets[p.Row]))
        (tested |> Array.map _.Predicted)
    let names = models |> List.map _.Name |> Array.ofList
    let vectorise = Vocabulary.vectorise fitted.Vocabulary
    AnomalyCharts.projection
        (Path.Combine(request.Out, "embedding.html"))
        labels.Classes
        names
        labels.Targets
        (Classifier.embeddings fitted.Model (terms |> Array.map vectorise))
    let share rule = float (tested |> Array.filter (Flags.flagged rule) |> Array.length) / float tested.Length
    { Label = Labels.fieldName request.Field
      MinClassCount = request.MinClassCount
      Models = models.Length
      Classes = labels.Classes
      Merged = labels.Merged |> List.map (fun (l, c) -> $"{l} ({c})")
      Singletons = labels.Singletons |> List.map (fun i -> names[i])
      Folds = cv.Folds
      MeanAccuracy = cv.MeanAccuracy
      MeanMacroF1 = cv.MeanMacroF1
      FlaggedShare = share request.Rule
      FlaggedShareWithoutMixtures = share (Flags.classifierOnly request.Rule)
      Features = fitted.Vocabulary.Terms.Length
      Seed = request.Seed
      Out = request.Out }

/// One checked model, as `anomaly check --json` prints it.
type CheckRow =
    {
        Id: string
        Declared: string option
        Predicted: string
        Confidence: float
        /// Log-likelihood of the embedding under the declared class's mixture (null without one).
        Score: float option
        Flagged: bool
    }

type CheckResult =
    {
        /// Flagged first, then by the classifier's confidence that the declared label is wrong.
        Results: CheckRow list
        /// Share of models with a declared label whose prediction equals it (a label outside the classes counts as
        /// Others when the classifier has that class); null when no model declares one.
        Accuracy: float option
    }

/// Predicts, scores and flags the models with the classifier folder's classifier.
let check (device: Device) (classifierDir: string) (rule: Flags.Rule) (models: Architecture list) =
    let loaded = ClassifierFiles.load classifierDir
    loaded.Fitted.Model.To device |> ignore
    if models.IsEmpty then
        Input.fail "anomaly check: no models to check"
    let declaredLabels = models |> List.map (Labels.declared loaded.Field) |> Array.ofList
    let declared = declaredLabels |> Array.map (Option.bind (Labels.classFor loaded.Classes))
    let terms = NGrams.termsOfAll loaded.Fitted.Vocabulary.Features models
    let predictions = CrossValidation.apply device loaded.Fitted terms declared
    let rows =
        models
        |> List.mapi (fun i m ->
            let p = predictions[i]
            1.0 - p.DeclaredProbability,
            { Id = m.Name
              Declared = declaredLabels[i]
              Predicted = loaded.Classes[p.Predicted]
              Confidence = p.Confidence
              Score = p.Score
              Flagged = declared[i].IsSome && Flags.flagged rule p })
        |> List.sortBy (fun (doubt, r) -> (not r.Flagged), -doubt)
        |> List.map snd
    let judged = Array.init models.Length id |> Array.filter (fun i -> declared[i].IsSome)
    let accuracy =
        if judged.Length = 0 then
            None
        else
            Some(
                float (judged |> Array.filter (fun i -> declared[i] = Some predictions[i].Predicted) |> Array.length)
                / float judged.Length
            )
    { Results = rows; Accuracy = accuracy }
