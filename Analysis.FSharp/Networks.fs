/// Networks that classify images: a zoo architecture with weights from any checkpoint format (safetensors, PyTorch zip
/// or legacy, Hugging Face folder), or an ONNX graph run by our own operators. Nothing from a model file is executed.
module Hybrid.Analysis.Networks

open System
open System.IO
open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Data
open Hybrid.Core.Nn.Modules
open Hybrid.Core.Nn.Formats.Onnx.Runtime
open Hybrid.Core.Nn.Zoo

type Network =
    /// A module of the zoo (its registry name).
    | ZooModel of arch: string * Module
    /// An ONNX graph.
    | OnnxGraph of path: string * OnnxSession
    /// A network that another engine computes (TorchSharp's, through the TorchInterop project): logits for a batch,
    /// in evaluation mode with recording off.
    | Engine of description: string * forward: (Tensor -> Tensor)

    /// Logits for a batch (N, C, H, W), in evaluation mode with recording off.
    member n.Forward(x: Tensor) =
        use _ = Autograd.NoGrad()
        match n with
        | ZooModel(_, m) ->
            use _ = m.Eval()
            m.Call x
        | OnnxGraph(_, s) -> s.Run x
        | Engine(_, forward) -> forward x

    member n.Describe =
        match n with
        | ZooModel(arch, m) -> $"{arch}, {m.ParameterCount():N0} parameters"
        | OnnxGraph(path, _) -> $"ONNX graph {Path.GetFileName path}"
        | Engine(description, _) -> description

let private isOnnx (path: string) = Path.GetExtension(path).Equals(".onnx", StringComparison.OrdinalIgnoreCase)

let private shapes (state: Collections.Generic.IReadOnlyDictionary<string, Tensor>) =
    [ for kv in state -> kv.Key, Array.map int64 kv.Value.Shape ]

/// Classes and input channels a state dict implies (ZooMatch.impliedSizes).
let shapeOf (state: Collections.Generic.IReadOnlyDictionary<string, Tensor>) = ZooMatch.impliedSizes (shapes state)

/// A zoo module holding the weights of <paramref name="path"/>. The architecture is the one named or, when omitted, the
/// one whose state keys and shapes the file's tensors have (ZooMatch.find: derived from the names and shapes, so only
/// that candidate is built), in the mode modules start in (enter evaluation with `use _ = model.Eval()`).
let loadModule (device: Device) (path: string) (arch: string option) =
    let state = Hybrid.Core.Nn.Formats.StateDicts.Load path
    let classes, channels = shapeOf state
    let name, model =
        match arch with
        | Some name -> name, Zoo.Create(name, numClasses = defaultArg classes 0, inChannels = defaultArg channels 3)
        | None ->
            match ZooMatch.find (shapes state) with
            | Some fit -> fit.Name, fit.Create()
            | None ->
                let known = String.Join(", ", Zoo.ImageNames)
                raise (
                    InputException(
                        path,
                        $"no zoo architecture has these tensor names and shapes; name one with --arch ({known})"
                    )
                )
    try
        model.LoadStateDict(state) |> ignore
    with :? ArgumentException as e ->
        raise (InputException(path, $"{e.Message} ({name})", e))
    model.To device |> ignore
    name, model

/// The network stored at <paramref name="path"/>: ONNX files run as graphs, every other format needs a zoo
/// architecture (see <see cref="loadModule"/>).
let load (device: Device) (path: string) (arch: string option) =
    if isOnnx path then
        if arch.IsSome then
            raise (InputException(path, "an ONNX file carries its own graph; drop --arch"))
        OnnxGraph(path, OnnxSession(Hybrid.Core.Nn.Formats.Onnx.Reader.OnnxModel.Load path, device))
    else
        let name, model = loadModule device path arch
        ZooModel(name, model)

/// The output of `model` (in evaluation mode, recording off) for one zero image of the dataset's shape; a model that
/// does not take such images is the user's mistake, named with the model file `path`.
let outputForImage (device: Device) (path: string) (model: Module) (data: LabelledImages) =
    let x = Tensor.Zeros(ScalarType.Float32, device, 1, data.Channels, data.Height, data.Width)
    try
        use _ = model.Eval()
        use _ = Autograd.NoGrad()
        model.Call x
    with :? ArgumentException as e ->
        let shape = $"{data.Channels}x{data.Height}x{data.Width}"
        raise (InputException(path, $"the model does not take the dataset's {shape} images: {e.Message}"))

/// The images of a batch as a (N, C, H, W) tensor on the device (no copy).
let batchTensor (device: Device) (b: Batch) =
    Tensor.Wrap(b.Images, [| b.Count; b.Channels; b.Height; b.Width |], device)

/// Index of the largest value in each row of an (N, C) float32 tensor (the first on ties, as torch.argmax).
let argmaxRows (logits: Tensor) =
    let n, c = logits.Size 0, logits.Size 1
    let values = logits.Span<float32>().ToArray()
    Array.init n (fun i ->
        let mutable best = 0
        for j in 1 .. c - 1 do
            if values.[i * c + j] > values.[i * c + best] then
                best <- j
        best)

type Evaluation =
    {
        Accuracy: float
        N: int
        Correct: int
        /// Confusion[true class][predicted class].
        Confusion: int[][]
        Predictions: int[]
        ClassNames: string list
    }

/// Loader options for one pass in dataset order: batchSize images at a time, normalised with mean / std when given.
let inOrder (batchSize: int) (mean: float32[] option) (std: float32[] option) =
    DataLoaderOptions(BatchSize = batchSize, Shuffle = false, Mean = Option.toObj mean, Std = Option.toObj std)

/// Loader options for training: batchSize images at a time in an order drawn from seed and the epoch, randomly
/// cropped after zero padding by cropPadding pixels (0: no crop) and flipped horizontally when flip, normalised with
/// mean / std when given. Training, mask training and defect fine-tuning differ only in their augmentation.
let shuffled
    (batchSize: int)
    (seed: int64)
    (cropPadding: int)
    (flip: bool)
    (mean: float32[] option)
    (std: float32[] option)
    =
    DataLoaderOptions(
        BatchSize = batchSize,
        Shuffle = true,
        Seed = seed,
        CropPadding = cropPadding,
        HorizontalFlip = flip,
        Mean = Option.toObj mean,
        Std = Option.toObj std
    )

/// One pass of a network over a labelled dataset, in dataset order: images normalised with Mean / Std when given,
/// BatchSize images at a time; Progress gets (images done, total).
type Pass =
    { Device: Device
      Network: Network
      Data: LabelledImages
      Mean: float32[] option
      Std: float32[] option
      BatchSize: int
      Progress: int -> int -> unit }

/// A pass without normalisation or progress report (set them with `{ pass ... with Mean = ... }`).
let pass (device: Device) (network: Network) (data: LabelledImages) (batchSize: int) =
    { Device = device
      Network = network
      Data = data
      Mean = None
      Std = None
      BatchSize = batchSize
      Progress = fun _ _ -> () }

/// Runs the pass and hands each batch with its (N, classes) logits to visit; a network that does not return one row of
/// logits per image is refused.
let forwardAll (pass: Pass) (visit: Batch -> Tensor -> unit) =
    let data = pass.Data
    let options = inOrder pass.BatchSize pass.Mean pass.Std
    let mutable done' = 0
    for batch in DataLoader(data, options).Epoch 0 do
        let logits = pass.Network.Forward(batchTensor pass.Device batch)
        if logits.Dim <> 2 || logits.Size 0 <> batch.Count then
            raise (
                ArgumentException
                    $"the network returned shape {ShapeOps.Format(logits.Shape)} for a batch of {batch.Count}; expected (N, classes)"
            )
        visit batch logits
        done' <- done' + batch.Count
        pass.Progress done' data.Count

/// Accuracy, confusion matrix and every prediction of the pass's network on its data, in dataset order.
let evaluate (pass: Pass) =
    let data = pass.Data
    let classes = data.ClassNames.Count
    let predictions = Array.zeroCreate data.Count
    forwardAll pass (fun batch logits ->
        argmaxRows logits |> Array.iteri (fun i p -> predictions.[batch.Indices.[i]] <- p))
    let confusion = Array.init classes (fun _ -> Array.zeroCreate (max classes 1))
    let mutable correct = 0
    for i in 0 .. data.Count - 1 do
        let truth = int data.Labels.[i]
        let p = predictions.[i]
        if p = truth then
            correct <- correct + 1
        if p < classes then
            confusion.[truth].[p] <- confusion.[truth].[p] + 1
    { Accuracy = (if data.Count = 0 then 0.0 else float correct / float data.Count)
      N = data.Count
      Correct = correct
      Confusion = confusion
      Predictions = predictions
      ClassNames = List.ofSeq data.ClassNames }
