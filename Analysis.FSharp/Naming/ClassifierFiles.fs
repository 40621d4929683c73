/// A trained naming classifier on disk, one folder: `classifier.safetensors` (the dara-mlp state, PyTorch's keys, its
/// widths in the metadata), `vocabulary.json` (feature families, scaling, terms and their document counts),
/// `classes.json` (label field and class names) and, when fitted, `mixtures.safetensors` (per class c the mixture as
/// `c.weights`, `c.means`, `c.covariances`, `c.precisions_cholesky`, plus `mean`, `scale` and `log_priors`).
module Hybrid.Analysis.Naming.ClassifierFiles

open System.IO
open System.Text.Json
open Hybrid.Core.Gpu
open Hybrid.Analysis
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Formats
open Hybrid.Core.Nn.Formats.Safetensors

/// The vocabulary as vocabulary.json holds it.
type VocabularyFile =
    {
        Trigrams: bool
        Shapes: bool
        TracedNames: bool
        /// 0 in files written before positions were a feature family.
        Positions: int
        Scaling: string
        MinDocuments: int
        Documents: int
        Terms: string[]
        DocumentFrequency: int[]
    }

/// The classes as classes.json holds them.
type ClassesFile = { Label: string; MinClassCount: int; Classes: string[] }

/// A classifier read back: what `hybrid anomaly check` needs.
type Loaded = { Field: Labels.Field; Classes: string[]; Fitted: CrossValidation.Fitted }

let private write (path: string) (value: 'T) = File.WriteAllText(path, Json.serialize value + "\n")

let private read<'T> (path: string) : 'T =
    if not (File.Exists path) then
        raise (InputException(path, "no such file; a classifier folder is written by hybrid anomaly train"))
    try
        let value =
            JsonSerializer.Deserialize<'T>(
                File.ReadAllText path,
                JsonSerializerOptions(PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower)
            )
        if isNull (box value) then
            raise (InputException(path, "empty JSON"))
        value
    with :? JsonException as e ->
        raise (InputException(path, $"not a classifier file ({e.Message})"))

let private mixturesFile (dir: string) = Path.Combine(dir, "mixtures.safetensors")

/// Writes the classifier, its vocabulary, its classes and its mixtures to dir (created when missing).
let save (dir: string) (field: Labels.Field) (minClassCount: int) (classes: string[]) (fitted: CrossValidation.Fitted) =
    Directory.CreateDirectory dir |> ignore
    let v = fitted.Vocabulary
    write
        (Path.Combine(dir, "vocabulary.json"))
        { Trigrams = v.Features.Trigrams
          Shapes = v.Features.Shapes
          TracedNames = v.Features.TracedNames
          Positions = v.Features.Positions
          Scaling = Vocabulary.scalingName v.Scaling
          MinDocuments = v.MinDocuments
          Documents = v.Documents
          Terms = v.Terms
          DocumentFrequency = v.DocumentFrequency }
    write
        (Path.Combine(dir, "classes.json"))
        { Label = Labels.fieldName field; MinClassCount = minClassCount; Classes = classes }
    let widths = fitted.Model.Widths |> Seq.map string |> String.concat ","
    StateDicts.SaveSafetensors(
        Path.Combine(dir, "classifier.safetensors"),
        fitted.Model.StateDict(),
        readOnlyDict [ "format", "hybrid.dara_classifier"; "widths", widths; "label", Labels.fieldName field ]
    )
    match fitted.Mixtures with
    | Some m ->
        let d = int64 m.Mean.Length
        SafetensorsWriter.Write(
            mixturesFile dir,
            [ yield TensorData.Float64("mean", [| d |], m.Mean)
              yield TensorData.Float64("scale", [| d |], m.Scale)
              yield TensorData.Float64("log_priors", [| int64 m.LogPriors.Length |], m.LogPriors)
              for c in 0 .. m.Models.Length - 1 do
                  match m.Models[c] with
                  | Some g ->
                      let k = int64 g.Components
                      yield TensorData.Float64($"{c}.weights", [| k |], g.Weights)
                      yield TensorData.Float64($"{c}.means", [| k; d |], g.Means)
                      yield TensorData.Float64($"{c}.covariances", [| int64 g.Covariances.Length |], g.Covariances)
                      yield
                          TensorData.Float64(
                              $"{c}.precisions_cholesky",
                              [| int64 g.PrecisionsCholesky.Length |],
                              g.PrecisionsCholesky
                          )
                  | None -> () ],
            readOnlyDict
                [ "format", "hybrid.class_mixtures"
                  "covariance_type", (m.Models |> Array.pick id).CovarianceType.SklearnName() ]
        )
    | None ->
        if File.Exists(mixturesFile dir) then
            File.Delete(mixturesFile dir)

let private loadMixtures (path: string) (classes: int) =
    use file = SafetensorsFile.Open path
    let covariance = Mixtures.parseCovariance file.Metadata["covariance_type"]
    let mean = file.ReadFloat64 "mean"
    let model c =
        if file.Contains $"{c}.weights" then
            let weights = file.ReadFloat64 $"{c}.weights"
            Some(
                GaussianMixtureModel.Restore(
                    covariance,
                    weights,
                    file.ReadFloat64 $"{c}.means",
                    file.ReadFloat64 $"{c}.covariances",
                    file.ReadFloat64 $"{c}.precisions_cholesky"
                )
            )
        else
            None
    { Mixtures.Mean = mean
      Mixtures.Scale = file.ReadFloat64 "scale"
      Mixtures.Models = Array.init classes model
      Mixtures.LogPriors = file.ReadFloat64 "log_priors" }

/// Reads a classifier folder; a missing part or a vocabulary that does not fit the network raises InputException.
let load (dir: string) =
    if not (Directory.Exists dir) then
        raise (InputException(dir, "no such classifier folder"))
    let v = read<VocabularyFile>(Path.Combine(dir, "vocabulary.json"))
    let c = read<ClassesFile>(Path.Combine(dir, "classes.json"))
    let weightsPath = Path.Combine(dir, "classifier.safetensors")
    if not (File.Exists weightsPath) then
        raise (InputException(weightsPath, "no such file; a classifier folder is written by hybrid anomaly train"))
    let state = StateDicts.Load weightsPath
    let shape (key: string) =
        match state.TryGetValue key with
        | true, t when t.Dim = 2 -> t.Shape
        | _ -> raise (InputException(weightsPath, $"no 2-d {key}: not a DARA classifier"))
    let fc1, fc2, fc3, fc4 = shape "fc1.weight", shape "fc2.weight", shape "fc3.weight", shape "fc4.weight"
    if isNull v.Terms || v.Terms.Length <> fc1[1] then
        raise (
            InputException(
                Path.Combine(dir, "vocabulary.json"),
                $"{(if isNull v.Terms then 0 else v.Terms.Length)} terms, but the classifier reads {fc1[1]} features: the vocabulary does not belong to this classifier"
            )
        )
    if isNull c.Classes || c.Classes.Length <> fc4[0] then
        raise (
            InputException(
                Path.Combine(dir, "classes.json"),
                $"the classifier predicts {fc4[0]} classes, not the file's"
            )
        )
    let model = Zoo.DaraMlp(fc1[1], fc4[0], widths = [| fc1[0]; fc2[0]; fc3[0] |])
    model.LoadStateDict state |> ignore
    let vocabulary: Vocabulary.Vocabulary =
        { Features = { Trigrams = v.Trigrams; Shapes = v.Shapes; TracedNames = v.TracedNames; Positions = v.Positions }
          Scaling = Vocabulary.parseScaling v.Scaling
          MinDocuments = v.MinDocuments
          Terms = v.Terms
          DocumentFrequency = v.DocumentFrequency
          Documents = v.Documents }
    let mixtures =
        if File.Exists(mixturesFile dir) then Some(loadMixtures (mixturesFile dir) c.Classes.Length) else None
    { Field = Labels.parseField c.Label
      Classes = c.Classes
      Fitted = { Vocabulary = vocabulary; Model = model; Mixtures = mixtures } }
