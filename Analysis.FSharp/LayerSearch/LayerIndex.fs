/// `cka index`: capture every selected layer of each model on a probe set and store the layers' CKA encodings in the
/// catalog, one transaction per model, so that re-indexing a model replaces its rows and a failure leaves them as they
/// were.
module Hybrid.Analysis.LayerIndex

open System
open System.Diagnostics
open System.IO
open Hybrid.Core.Gpu

/// One model to index: its file, the name and version it is stored under, and what is known about it.
type ModelToIndex =
    { Path: string
      Name: string
      Version: string
      Arch: string option
      Accuracy: float option
      TrainedOn: string option }

type IndexedModel =
    {
        Model: string
        Version: string
        Source: string
        /// The zoo architecture the weights were loaded into, or "ONNX graph".
        Network: string
        Layers: int
        Skipped: LayerCapture.SkippedLayer list
        Seconds: float
    }

type IndexResult = { Db: string; Probe: ProbeRow; Models: IndexedModel list; Device: string }

/// The version a model is stored under when none is given.
let DefaultVersion = "1"

/// The name a model file is indexed under when none is given: the folder's name for the generic file names a model
/// folder holds (model.safetensors, pytorch_model.bin, ...), else the file name without its extension.
let modelName (path: string) =
    let trimmed = Path.TrimEndingDirectorySeparator path
    if Directory.Exists trimmed then
        Path.GetFileName trimmed
    else
        let stem = Path.GetFileNameWithoutExtension trimmed
        let folder = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath trimmed))
        if
            List.contains stem [ "model"; "pytorch_model"; "weights"; "checkpoint" ]
            && not (String.IsNullOrEmpty folder)
        then
            folder
        else
            stem

/// Refuses names that could not be a path segment of the HTTP API or a file name: model names, versions and layers
/// are letters, digits and . _ - # (no slashes, no "..").
let checkName (what: string) (name: string) =
    let ok (c: char) = Char.IsAsciiLetterOrDigit c || c = '.' || c = '_' || c = '-' || c = '#'
    if String.IsNullOrEmpty name || name.Length > 200 || name.Contains ".." || not (Seq.forall ok name) then
        Input.fail "%s '%s': use letters, digits and . _ - # only (at most 200, no '..')" what name

/// Captures the selected layers of one model on the probe set and replaces its rows in the catalog, recording source
/// as where the model came from (its file, or an upload's name).
let indexFrom
    (device: Device)
    (catalog: ICatalog)
    (probe: ProbeSet.Probe)
    (selection: LayerCapture.Selection)
    (source: string)
    (m: ModelToIndex)
    =
    checkName "model" m.Name
    checkName "version" m.Version
    let clock = Stopwatch.StartNew()
    let images, shape = probe.Images, probe.Row.InputShape
    let network, (layers, skipped) =
        match Networks.load device m.Path m.Arch with
        | Networks.ZooModel(arch, model) ->
            arch, Input.guard m.Path (fun () -> LayerCapture.capture device model selection images shape)
        | Networks.OnnxGraph(_, session) ->
            let batch, budget = OnnxCapture.DefaultBatch, OnnxCapture.DefaultBudget
            "ONNX graph",
            Input.guard m.Path (fun () -> OnnxCapture.capture device session selection images shape batch budget)
        | Networks.Engine(description, _) -> Input.fail "%s: %s has no layers to capture" m.Path description
    if layers.IsEmpty then
        Input.fail "%s: no layer to index (%d skipped)" m.Path skipped.Length
    let rows =
        layers
        |> List.mapi (fun i l ->
            { CkaLayerRow.Probe = probe.Row.Id
              CkaLayerRow.Model = m.Name
              CkaLayerRow.Version = m.Version
              CkaLayerRow.Ordinal = i
              CkaLayerRow.Layer = l.Path
              CkaLayerRow.LayerType = l.Type
              CkaLayerRow.OutputShape = l.OutputShape
              CkaLayerRow.Parameters = l.Parameters
              CkaLayerRow.ParameterCount = l.ParameterCount
              CkaLayerRow.Accuracy = m.Accuracy
              CkaLayerRow.TrainedOn = m.TrainedOn
              CkaLayerRow.Source = source },
            l.Encoding)
    Catalog.replaceCkaModel catalog probe.Row rows
    { Model = m.Name
      Version = m.Version
      Source = source
      Network = network
      Layers = rows.Length
      Skipped = skipped
      Seconds = clock.Elapsed.TotalSeconds }

/// Captures the selected layers of one model file on the probe set and replaces its rows in the catalog.
let indexModel
    (device: Device)
    (catalog: ICatalog)
    (probe: ProbeSet.Probe)
    (selection: LayerCapture.Selection)
    (m: ModelToIndex)
    =
    { indexFrom device catalog probe selection (Path.GetFullPath m.Path) m with Source = m.Path }

/// Refuses model paths that name no file or folder (before the probe set is read).
let requireFiles (paths: string list) =
    for path in paths do
        if not (File.Exists path || Directory.Exists path) then
            Input.fail "%s: no such file" path

/// Indexes every model on the probe set in the catalog at db; progress gets (models done, total, the model just done).
let run
    (device: Device)
    (db: string)
    (probe: ProbeSet.Probe)
    (selection: LayerCapture.Selection)
    (models: ModelToIndex list)
    (progress: int -> int -> IndexedModel -> unit)
    =
    requireFiles (models |> List.map _.Path)
    let duplicate = models |> List.countBy (fun m -> m.Name, m.Version) |> List.tryFind (fun (_, count) -> count > 1)
    match duplicate with
    | Some((name, version), _) -> Input.fail "cka index: two models would be stored as %s/%s; name them" name version
    | None -> ()
    use catalog = Catalog.openOrCreate db
    let indexed =
        models
        |> List.mapi (fun i m ->
            let r = indexModel device catalog probe selection m
            progress (i + 1) models.Length r
            r)
    { Db = db; Probe = probe.Row; Models = indexed; Device = device.Name }
