/// Stratified k-fold cross-validation of the naming classifier with its mixtures: each fold builds its vocabulary,
/// trains a classifier and fits the class mixtures on its training part alone, then predicts and scores its test part,
/// so every figure is out of sample. The flags of naming anomalies are computed from these out-of-fold results.
module Hybrid.Analysis.Naming.CrossValidation

open System
open System.Collections.Generic
open Hybrid.Core.Gpu
open Hybrid.Analysis

/// One model's result: out of fold in cross-validation (a model kept out of the test parts has none), or a checked
/// model's (Row is its index among those checked, Fold 0).
type Prediction =
    {
        Row: int
        Fold: int
        Predicted: int
        /// The classifier's probability of the predicted class.
        Confidence: float
        /// The classifier's probability of the declared class.
        DeclaredProbability: float
        /// Log-likelihood of the embedding under the declared class's mixture.
        Score: float option
        /// The declared class's posterior among the class mixtures (None without mixtures).
        MixturePosterior: float option
    }

type Fold = { Fold: int; TestCount: int; Accuracy: float; MacroF1: float; Features: int }

type Result = { Folds: Fold list; MeanAccuracy: float; MeanMacroF1: float; Predictions: Prediction list }

/// Everything one run needs besides the data.
type Settings =
    {
        Features: NGrams.Options
        Scaling: Vocabulary.Scaling
        MinDocuments: int
        Classifier: Classifier.Options
        Mixtures: Mixtures.Options option
        /// With mixtures: drop the training models whose declared class's posterior among the class mixtures is below
        /// this (likely mislabelled), then train again on the rest (None: train once on all).
        NoisyBelow: float option
        Folds: int
    }

/// DARA's classifier settings and 5 folds, with the features that measured better on the dev traces than DARA's
/// raw counts of normalised types: log(1 + count) scaling, the traced names as spelled and the layers' positions up to
/// 8 edges from either end (model_type at 20: accuracy 0.900 without positions, 0.929 with); with the mixtures.
let defaults =
    { Features = { NGrams.defaults with TracedNames = true; Positions = 8 }
      Scaling = Vocabulary.Log
      MinDocuments = 1
      Classifier = Classifier.defaults
      Mixtures = Some Mixtures.defaults
      NoisyBelow = None
      Folds = 5 }

/// DARA as published: raw counts of the normalised layer types' n-grams, no mixtures.
let published = { defaults with Features = NGrams.defaults; Scaling = Vocabulary.Counts; Mixtures = None }

/// The share of rows predicted right and the macro-averaged F1 over the classes present among truth or predictions
/// (scikit-learn's f1_score(average="macro") with its default labels).
let accuracyAndMacroF1 (truth: int[]) (predicted: int[]) =
    let n = truth.Length
    let accuracy = float (Array.fold2 (fun s t p -> if t = p then s + 1 else s) 0 truth predicted) / float n
    let classes = Array.append truth predicted |> Array.distinct
    let f1 c =
        let tp = Array.fold2 (fun s t p -> if t = c && p = c then s + 1 else s) 0 truth predicted
        let fp = Array.fold2 (fun s t p -> if t <> c && p = c then s + 1 else s) 0 truth predicted
        let fn = Array.fold2 (fun s t p -> if t = c && p <> c then s + 1 else s) 0 truth predicted
        if tp = 0 then 0.0 else 2.0 * float tp / float (2 * tp + fp + fn)
    accuracy, (classes |> Array.averageBy f1)

/// A classifier with its vocabulary and, when asked for, its class mixtures, trained on some rows.
type Fitted =
    { Vocabulary: Vocabulary.Vocabulary; Model: Hybrid.Core.Nn.Zoo.DaraMlp; Mixtures: Mixtures.ClassMixtures option }

/// Trains on the given rows of the models' term counts and class targets. With NoisyBelow and mixtures, the rows whose
/// declared class the first fit's mixtures find unlikely (posterior below the threshold) are left out of a second fit,
/// as long as their class keeps a row.
let fit
    (device: Device)
    (settings: Settings)
    (classes: int)
    (terms: IReadOnlyDictionary<string, int>[])
    (targets: int[])
    (rows: int[])
    =
    let fitOn (rows: int[]) =
        let vocabulary =
            Vocabulary.build settings.Features settings.Scaling settings.MinDocuments [ for r in rows -> terms[r] ]
        let vectorise = Vocabulary.vectorise vocabulary
        let x = rows |> Array.map (fun r -> vectorise terms[r])
        let y = rows |> Array.map (fun r -> targets[r])
        let model = Classifier.train device settings.Classifier vocabulary.Terms.Length classes x y
        let embeddings = lazy (Classifier.embeddings model x)
        let mixtures = settings.Mixtures |> Option.map (fun o -> Mixtures.fit device o classes embeddings.Value y)
        { Vocabulary = vocabulary; Model = model; Mixtures = mixtures }, embeddings
    let first, embeddings = fitOn rows
    match settings.NoisyBelow, first.Mixtures with
    | Some threshold, Some mixtures ->
        let posterior =
            Mixtures.scoreAll device mixtures embeddings.Value (rows |> Array.map (fun r -> Some targets[r]))
            |> Array.map snd
        let likely i = posterior[i] >= threshold
        let keptClasses =
            rows |> Array.indexed |> Array.filter (fst >> likely) |> Array.map (fun (_, r) -> targets[r]) |> set
        let kept =
            rows
            |> Array.indexed
            |> Array.filter (fun (i, r) -> likely i || not (keptClasses.Contains targets[r]))
            |> Array.map snd
        if kept.Length = rows.Length then first else fst (fitOn kept)
    | _ -> first

/// A fitted classifier's results on models: predicted class and its probability, the declared class's probability,
/// and (with mixtures) the score under the declared class and the declared class's posterior among the mixtures.
let apply (device: Device) (fitted: Fitted) (terms: IReadOnlyDictionary<string, int>[]) (declared: int option[]) =
    let vectorise = Vocabulary.vectorise fitted.Vocabulary
    let x = terms |> Array.map vectorise
    let probabilities = Classifier.probabilities fitted.Model x
    let scores =
        match fitted.Mixtures with
        | Some m ->
            Mixtures.scoreAll device m (Classifier.embeddings fitted.Model x) declared
            |> Array.map (fun (s, posterior) -> s, Some posterior)
        | None -> Array.create x.Length (None, None)
    Array.init x.Length (fun i ->
        let p, c = Classifier.predictions [| probabilities[i] |] |> Array.exactlyOne
        let s, posterior = scores[i]
        { Row = i
          Fold = 0
          Predicted = p
          Confidence = c
          DeclaredProbability = declared[i] |> Option.map (fun d -> probabilities[i][d]) |> Option.defaultValue 0.0
          Score = s
          MixturePosterior = posterior })

/// k-fold cross-validation on the models' term counts and class targets; the rows in trainOnly are never tested. The
/// folds are independent and each one's numbers depend on the seed alone, so on a host device they run side by side on the
/// cores and give the same bits on any number of them (a GPU's folds take turns on its one stream); onFold sees them in
/// fold order.
let run
    (device: Device)
    (settings: Settings)
    (classes: int)
    (seed: int)
    (terms: IReadOnlyDictionary<string, int>[])
    (targets: int[])
    (trainOnly: int list)
    (onFold: Fold -> unit)
    =
    let folds = Folds.stratified settings.Folds seed targets trainOnly
    let one f =
        let test = folds[f]
        let fitted = fit device settings classes terms targets (Folds.trainingRows targets.Length test)
        let outcome =
            apply device fitted (test |> Array.map (fun r -> terms[r])) (test |> Array.map (fun r -> Some targets[r]))
        let accuracy, f1 =
            accuracyAndMacroF1 (test |> Array.map (fun r -> targets[r])) (outcome |> Array.map _.Predicted)
        let fold =
            { Fold = f + 1
              TestCount = test.Length
              Accuracy = accuracy
              MacroF1 = f1
              Features = fitted.Vocabulary.Terms.Length }
        fold, Array.map2 (fun r (p: Prediction) -> { p with Row = r; Fold = f + 1 }) test outcome
    let threads = if device.IsHost then Environment.ProcessorCount else 1
    let results = InOrder.run threads folds.Length one (fst >> onFold)
    let foldList = results |> Array.map fst |> List.ofArray
    { Folds = foldList
      MeanAccuracy = foldList |> List.averageBy _.Accuracy
      MeanMacroF1 = foldList |> List.averageBy _.MacroF1
      Predictions = results |> Array.collect snd |> Array.sortBy _.Row |> List.ofArray }
