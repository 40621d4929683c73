/// Training a zoo architecture on an image dataset: SGD with momentum, a learning-rate schedule stepped every batch,
/// augmentation by the data loader, a checkpoint after every epoch and exact resumption from it. Every number is
/// reproducible from the recorded seed: the data order and augmentation depend only on (seed, epoch), the initial
/// weights only on the seed.
module Hybrid.Analysis.Training

open System.Collections.Generic
open System.IO
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Data
open Hybrid.Core.Nn.Modules
open Hybrid.Core.Nn.Optim

type Schedule =
    /// Cosine annealing from the learning rate to 0 over all batches of all epochs.
    | Cosine
    /// The learning rate times gamma every `every` epochs.
    | StepDecay of every: int * gamma: float
    /// The learning rate as given, for every batch.
    | Constant

type Options =
    { Arch: string
      Epochs: int
      BatchSize: int
      LearningRate: float
      Momentum: float
      Nesterov: bool
      WeightDecay: float
      Schedule: Schedule
      CropPadding: int
      Flip: bool
      Seed: int64
      Mean: float32[] option
      Std: float32[] option }

/// The recipe of issue 4 for CIFAR-style ResNets: SGD, momentum 0.9, Nesterov, lr 0.1 with cosine decay,
/// weight decay 5e-4, batch 128, random crop with 2-pixel padding and horizontal flip.
let defaults arch =
    { Arch = arch
      Epochs = 2
      BatchSize = 128
      LearningRate = 0.1
      Momentum = 0.9
      Nesterov = true
      WeightDecay = 5e-4
      Schedule = Cosine
      CropPadding = 2
      Flip = true
      Seed = 0L
      Mean = None
      Std = None }

type EpochReport =
    { Epoch: int; Loss: float; TrainAccuracy: float; TestAccuracy: float option; LearningRate: float; Seconds: float }

/// What an epoch loop (training here, mask training in Reengineering) reports as it goes; 'epoch is its epoch report.
type EpochProgress<'epoch> =
    /// A batch finished: epoch, batch index, batches per epoch, its loss.
    | BatchDone of epoch: int * index: int * count: int * loss: float
    | EpochDone of 'epoch
    /// Training continues from a checkpoint after this many finished epochs.
    | Resumed of epochs: int

type Progress = EpochProgress<EpochReport>

/// Where training keeps its checkpoint for the model written to <paramref name="out"/>.
let checkpointPath (out: string) = out + ".checkpoint.safetensors"

/// The options as a checkpoint records them, so that resuming with other options is refused. Its JSON text is compared
/// as it is, so these fields, their order and their forms are part of the checkpoint format.
type CheckpointOptions =
    { Arch: string
      Epochs: int
      BatchSize: int
      Lr: float
      Momentum: float
      Nesterov: bool
      WeightDecay: float
      Schedule: string
      CropPadding: int
      Flip: bool
      Seed: int64
      Mean: float32[] option
      Std: float32[] option }

let private optionsJson (o: Options) =
    Json.serialize
        { Arch = o.Arch
          Epochs = o.Epochs
          BatchSize = o.BatchSize
          Lr = o.LearningRate
          Momentum = o.Momentum
          Nesterov = o.Nesterov
          WeightDecay = o.WeightDecay
          Schedule = sprintf "%A" o.Schedule
          CropPadding = o.CropPadding
          Flip = o.Flip
          Seed = o.Seed
          Mean = o.Mean
          Std = o.Std }

/// Saves a module's state by the file's extension: .safetensors, .pt / .pth (PyTorch zip), or .onnx (exported graph,
/// traced on one example of <paramref name="inputShape"/>).
let save (model: Module) (inputShape: int[]) (metadata: IReadOnlyDictionary<string, string>) (path: string) =
    match Path.GetExtension(path).ToLowerInvariant() with
    | ".safetensors" -> Formats.StateDicts.SaveSafetensors(path, model.StateDict(), metadata)
    | ".pt"
    | ".pth" -> Formats.StateDicts.SavePyTorch(path, model.StateDict())
    | ".onnx" ->
        use _ = model.Eval()
        Formats.Onnx.Export.OnnxExport.Save(model, Tensor.Zeros(Array.append [| 1 |] inputShape), path)
    | other -> raise (InputException(path, $"cannot save a model as '{other}': use .safetensors, .pt, .pth or .onnx"))

/// One epoch over the loader's batches with `step` (inputs, labels -> loss, logits) for each, then `report` (batch
/// index, batches, loss). Returns the mean loss and the share of images the logits classified correctly.
let private runEpoch
    (device: Hybrid.Core.Gpu.Device)
    (step: Tensor * Tensor -> float * Tensor)
    (loader: DataLoader)
    (epoch: int)
    (report: int -> int -> float -> unit)
    =
    let mutable lossSum, correct, seen, index = 0.0, 0, 0, 0
    for batch in loader.Epoch epoch do
        let x = Networks.batchTensor device batch
        let y = Tensor.Wrap(batch.Labels, [| batch.Count |], device)
        let l, logits = step (x, y)
        lossSum <- lossSum + l * float batch.Count
        seen <- seen + batch.Count
        Networks.argmaxRows logits
        |> Array.iteri (fun i p ->
            if int64 p = batch.Labels.[i] then
                correct <- correct + 1)
        report index loader.BatchCount l
        index <- index + 1
    lossSum / float seen, float correct / float seen

/// Core.Nn's step: cross-entropy, a step of `optimizer`, then `afterStep` (a scheduler's step).
let private sgdStep (model: Module) (optimizer: Optimizer) (afterStep: unit -> unit) (x: Tensor, y: Tensor) =
    let logits = model.Call x
    let loss = Functional.CrossEntropy(logits, y)
    optimizer.ZeroGrad()
    loss.Backward()
    optimizer.Step()
    afterStep ()
    loss.Item(), logits.Detach()

/// One epoch of supervised training over the loader's batches, in the mode the caller set: cross-entropy, a step of
/// `optimizer` after each batch, then `afterStep` (a scheduler's step) and `report` (batch index, batches, loss).
/// Returns the mean loss and the share of images the logits classified correctly during the epoch.
let trainEpoch
    (device: Hybrid.Core.Gpu.Device)
    (model: Module)
    (optimizer: Optimizer)
    (loader: DataLoader)
    (epoch: int)
    (afterStep: unit -> unit)
    (report: int -> int -> float -> unit)
    =
    runEpoch device (sgdStep model optimizer afterStep) loader epoch report

/// The optimisation `train` runs, as the engine running it performs it: Core.Nn's (`coreEngine`), or another engine's
/// that trains a twin of the model (TorchInterop's, on TorchSharp) and hands its weights back through `Sync`.
type Learner =
    /// The engine's name, recorded in the checkpoint: a checkpoint resumes only on the engine that wrote it.
    abstract Engine: string
    /// One step on a batch (inputs, labels): cross-entropy, backward, the optimiser's step, the schedule's step.
    /// Returns the loss and the logits.
    abstract Step: x: Tensor * y: Tensor -> float * Tensor
    /// The learning rate of the next step.
    abstract LearningRate: float
    /// Leaves the engine's weights and buffers in the Core.Nn model, which evaluation, checkpoints and saving read.
    abstract Sync: unit -> unit
    /// The optimiser's and the schedule's state as checkpoint parts.
    abstract State: unit -> (string * seq<string * Tensor>) list
    /// Loads the state `State` wrote from a checkpoint.
    abstract Load: Checkpoint.Saved -> unit

/// Makes the learner of a freshly built model (on the training device) from the options and the batches per epoch.
type Engine = Options -> Module -> int -> Learner

/// Core.Nn's learner: SGD (momentum, Nesterov, weight decay) and the schedule stepped after every batch.
let coreEngine: Engine =
    fun o model batchCount ->
        let optimizer =
            SGD(
                model.Parameters(),
                o.LearningRate,
                momentum = o.Momentum,
                weightDecay = o.WeightDecay,
                nesterov = o.Nesterov
            )
        let scheduler: LRScheduler option =
            match o.Schedule with
            | Cosine -> Some(CosineAnnealingLR(optimizer, tMax = o.Epochs * batchCount))
            | StepDecay(every, gamma) -> Some(StepLR(optimizer, stepSize = every * batchCount, gamma = gamma))
            | Constant -> None
        { new Learner with
            member _.Engine = "core"
            member _.Step(x, y) = sgdStep model optimizer (fun () -> scheduler |> Option.iter _.Step()) (x, y)
            member _.LearningRate = optimizer.ParamGroups.[0].Lr
            member _.Sync() = ()
            member _.State() =
                [ yield "optimizer", Checkpoint.dictState (optimizer.StateDict())
                  for s in Option.toList scheduler -> "scheduler", Checkpoint.dictState (s.StateDict()) ]
            member _.Load saved =
                optimizer.LoadStateDict(saved.Part "optimizer")
                scheduler |> Option.iter (fun s -> s.LoadStateDict(saved.Part "scheduler")) }

/// The engine a checkpoint was written on (those written before engines were recorded: Core.Nn).
let checkpointEngine (saved: Checkpoint.Saved) =
    match saved.Metadata.TryGetValue "engine" with
    | true, e -> e
    | _ -> "core"

/// Trains (or resumes training of) <c>options.Arch</c> on <paramref name="trainSet"/>, evaluating on
/// <paramref name="testSet"/> after each epoch, checkpointing to <see cref="checkpointPath"/> and finally saving the
/// model to <paramref name="out"/> (format by extension); `engine` runs the steps. Returns the model and one report per
/// epoch run here.
let trainWith
    (engine: Engine)
    (device: Hybrid.Core.Gpu.Device)
    (o: Options)
    (trainSet: LabelledImages)
    (testSet: LabelledImages option)
    (out: string)
    (resume: bool)
    (report: Progress -> unit)
    =
    if o.Epochs < 1 then
        raise (System.ArgumentException $"epochs is {o.Epochs}; it must be at least 1")
    let classes = trainSet.ClassNames.Count
    let model =
        Hybrid.Core.Nn.Zoo.Zoo.Create(o.Arch, numClasses = classes, inChannels = trainSet.Channels, seed = o.Seed)
    model.To device |> ignore
    // One image through the new model refuses, before any training, a dataset whose image size the architecture cannot
    // take (a mixer's patch grid is fixed; CIFAR VGG's five pools need 32 pixels or more), with the module's own words.
    try
        use _ = Autograd.NoGrad()
        use _ = model.Eval()
        model.Call(Tensor.Zeros(1, trainSet.Channels, trainSet.Height, trainSet.Width).To device) |> ignore
    with :? System.ArgumentException as e ->
        Input.fail
            "train: %s cannot take the dataset's %dx%dx%d images: %s"
            o.Arch
            trainSet.Channels
            trainSet.Height
            trainSet.Width
            e.Message
    let loader = DataLoader(trainSet, Networks.shuffled o.BatchSize o.Seed o.CropPadding o.Flip o.Mean o.Std)
    let learner = engine o model loader.BatchCount
    let checkpoint = checkpointPath out
    let mutable firstEpoch = 0
    if resume && File.Exists checkpoint then
        let saved = Checkpoint.read checkpoint
        let meta = saved.Metadata
        let options = meta.["options"]
        if options <> optionsJson o then
            raise (
                InputException(
                    checkpoint,
                    $"the checkpoint was written with other options ({options}); resume with the same ones or delete it"
                )
            )
        if checkpointEngine saved <> learner.Engine then
            raise (
                InputException(
                    checkpoint,
                    $"the checkpoint was written on --engine {checkpointEngine saved}; resume on that engine or delete it"
                )
            )
        model.LoadStateDict(saved.Part "model") |> ignore
        learner.Load saved
        firstEpoch <- int meta.["epochs_done"]
        report (Resumed firstEpoch)
    let evaluateOn (data: LabelledImages) =
        use _ = model.Eval()
        let network = Networks.ZooModel(o.Arch, model)
        (Networks.evaluate { Networks.pass device network data 256 with Mean = o.Mean; Std = o.Std }).Accuracy
    let reports = List<EpochReport>()
    use _ = model.Train()
    for epoch in firstEpoch .. o.Epochs - 1 do
        let clock = System.Diagnostics.Stopwatch.StartNew()
        let lr = learner.LearningRate
        let loss, accuracy =
            runEpoch device learner.Step loader epoch (fun index count l -> report (BatchDone(epoch, index, count, l)))
        learner.Sync()
        let test = testSet |> Option.map evaluateOn
        let r =
            { Epoch = epoch
              Loss = loss
              TrainAccuracy = accuracy
              TestAccuracy = test
              LearningRate = lr
              Seconds = clock.Elapsed.TotalSeconds }
        reports.Add r
        Checkpoint.write
            checkpoint
            (("model", Checkpoint.moduleState model) :: learner.State())
            [ "epochs_done", string (epoch + 1); "options", optionsJson o; "engine", learner.Engine ]
        report (EpochDone r)
    let meta =
        readOnlyDict [ "arch", o.Arch; "seed", string o.Seed; "epochs", string o.Epochs; "options", optionsJson o ]
    save model [| trainSet.Channels; trainSet.Height; trainSet.Width |] meta out
    model, List.ofSeq reports

/// `trainWith` on Core.Nn's learner.
let train device o trainSet testSet out resume report = trainWith coreEngine device o trainSet testSet out resume report
