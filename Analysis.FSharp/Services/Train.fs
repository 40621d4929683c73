/// `train`: a zoo architecture trained on an image dataset, as a result record (see Training for the loop).
module Hybrid.Analysis.Train

open Hybrid.Core.Gpu
open Hybrid.Core.Nn.Data

/// One epoch of a run as the result reports it (epochs counted from 1).
type EpochResult =
    { Epoch: int; Loss: float; TrainAccuracy: float; TestAccuracy: float option; Lr: float; Seconds: float }

type TrainResult = { Arch: string; Out: string; Seed: int64; Epochs: EpochResult list }

/// The test split for the IDX datasets, which name a folder holding both splits; none for the others.
let defaultTest (spec: string) =
    match DatasetSpec.Parse(spec).Kind with
    | DatasetSpec.Source.FashionMnist
    | DatasetSpec.Source.Mnist -> Some spec
    | _ -> None

/// Refuses an architecture that does not classify images.
let checkArchitecture (arch: string) =
    let known = ImageRun.imageArchitectures ()
    if not (List.contains arch known) then
        Input.fail "train: unknown image architecture '%s': expected one of %s" arch (System.String.Join(", ", known))

/// Refuses options no run can use: an architecture that does not classify images, a rate that is not positive.
let validate (o: Training.Options) =
    checkArchitecture o.Arch
    if not (o.LearningRate > 0.0) then
        Input.fail "train: --lr %g must be positive" o.LearningRate

/// Trains (or, with resume, continues) options.Arch on the images of datasetSpec, evaluating after each epoch on
/// testSpec (default: see defaultTest), and writes the model to out; `engine` runs the steps (Training.coreEngine:
/// Core.Nn). report sees every batch and epoch.
let runWith
    (engine: Training.Engine)
    (device: Device)
    (options: Training.Options)
    (datasetSpec: string)
    (testSpec: string option)
    (out: string)
    (resume: bool)
    (report: Training.Progress -> unit)
    =
    validate options
    let trainSet = ImageRun.load datasetSpec true
    let testSpec = testSpec |> Option.orElse (defaultTest datasetSpec)
    let testSet = testSpec |> Option.map (fun s -> ImageRun.load s false)
    // The model is built for the training images' shape: a test set of another shape cannot be evaluated on it.
    match testSpec, testSet with
    | Some spec, Some t when (t.Channels, t.Height, t.Width) <> (trainSet.Channels, trainSet.Height, trainSet.Width) ->
        Input.fail
            "%s: test images are %dx%dx%d, but the training images of %s are %dx%dx%d"
            spec
            t.Channels
            t.Height
            t.Width
            datasetSpec
            trainSet.Channels
            trainSet.Height
            trainSet.Width
    | _ -> ()
    let _, epochs = Training.trainWith engine device options trainSet testSet out resume report
    { Arch = options.Arch
      Out = out
      Seed = options.Seed
      Epochs =
        [ for r in epochs ->
              { Epoch = r.Epoch + 1
                Loss = r.Loss
                TrainAccuracy = r.TrainAccuracy
                TestAccuracy = r.TestAccuracy
                Lr = r.LearningRate
                Seconds = r.Seconds } ] }

/// `runWith` on Core.Nn.
let run device options datasetSpec testSpec out resume report =
    runWith Training.coreEngine device options datasetSpec testSpec out resume report

/// One saved copy of a trained model, loaded back and evaluated.
type ReloadResult = { Path: string; Bytes: int64; LoadedAs: string; Accuracy: float }

/// Saves model (trained on images of shape inputShape) to each of paths (format by extension; metadata where the
/// format holds it), then loads every file of files back as a user would (architecture found from the tensor names,
/// ONNX run as a graph) and evaluates it on testSet in batches of batchSize.
let saveAndReload
    (device: Device)
    (model: Hybrid.Core.Nn.Modules.Module)
    (inputShape: int[])
    (metadata: System.Collections.Generic.IReadOnlyDictionary<string, string>)
    (paths: string list)
    (files: string list)
    (testSet: LabelledImages)
    (batchSize: int)
    =
    for path in paths do
        Training.save model inputShape metadata path
    [ for path in files ->
          let network = Networks.load device path None
          let result = Networks.evaluate (Networks.pass device network testSet batchSize)
          { Path = path
            Bytes = System.IO.FileInfo(path).Length
            LoadedAs = network.Describe
            Accuracy = result.Accuracy } ]
