/// `eval`: classify a dataset with a model in any format, as a result record.
module Hybrid.Analysis.Evaluate

open Hybrid.Core.Gpu

/// Images per forward pass when none is given.
let DefaultBatch = 256

type EvalResult =
    {
        Accuracy: float
        N: int
        Correct: int
        Classes: string list
        /// Confusion[true class][predicted class].
        Confusion: int[][]
        Model: string
        /// The network as loaded: the zoo architecture and its parameter count, or the ONNX graph.
        Network: string
        Device: string
    }

/// Evaluates the model at modelPath (arch: its zoo architecture, found from its tensors when None) on the images of
/// datasetSpec, normalised by mean and std ("0.485,0.456,0.406") when given. engine hands the loaded network to the
/// engine that runs it (`id`: Core.Nn's). progress gets (images done, total).
let run
    (device: Device)
    (engine: Networks.Network -> Networks.Network)
    (modelPath: string)
    (arch: string option)
    (datasetSpec: string)
    (mean: string option)
    (std: string option)
    (batch: int)
    (progress: int -> int -> unit)
    =
    if batch < 1 then
        Input.fail "eval: --batch %d must be at least 1" batch
    let mean, std = ImageRun.normalisation mean std
    let data = ImageRun.load datasetSpec false
    let network = engine (Networks.load device modelPath arch)
    let result =
        Input.guard modelPath (fun () ->
            Networks.evaluate
                { Networks.pass device network data batch with Mean = mean; Std = std; Progress = progress })
    { Accuracy = result.Accuracy
      N = result.N
      Correct = result.Correct
      Classes = result.ClassNames
      Confusion = result.Confusion
      Model = modelPath
      Network = network.Describe
      Device = device.Name }
