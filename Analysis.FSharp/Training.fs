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
open Hybrid.Core.Nn.Formats

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

type Progress =
    /// A batch finished: epoch, batch index, batches per epoch, its loss.
    | BatchDone of epoch: int * index: int * count: int * loss: float
    | EpochDone of EpochReport
    /// Training continues from a checkpoint after this many finished epochs.
    | Resumed of epochs: int

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
    | ".safetensors" -> StateDicts.SaveSafetensors(path, model.StateDict(), metadata)
    | ".pt"
    | ".pth" -> StateDicts.SavePyTorch(path, model.StateDict())
    | ".onnx" ->
        use _ = model.Eval()
        Hybrid.Core.Nn.Formats.Onnx.Export.OnnxExport.Save(model, Tensor.Zeros(Array.append [| 1 |] inputShape), path)
    | other -> raise (InputException(path, $"cannot save a model as '{other}': use .safetensors, .pt, .pth or .onnx"))

/// Model, optimiser and scheduler state in one checkpoint.
let private writeCheckpoint
    (path: string)
    (model: Module)
    (optimizer: Optimizer)
    (scheduler: LRScheduler option)
    (epochs: int)
    (o: Options)
    =
    Checkpoint.write
        path
        [ yield "model", Checkpoint.moduleState model
          yield "optimizer", Checkpoint.dictState (optimizer.StateDict())
          for s in Option.toList scheduler -> "scheduler", Checkpoint.dictState (s.StateDict()) ]
        [ "epochs_done", string epochs; "options", optionsJson o ]

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
    let mutable lossSum, correct, seen, index = 0.0, 0, 0, 0
    for batch in loader.Epoch epoch do
        let x = Networks.batchTensor device batch
        let y = Tensor.Wrap(batch.Labels, [| batch.Count |], device)
        let logits = model.Call x
        let loss = Functional.CrossEntropy(logits, y)
        optimizer.ZeroGrad()
        loss.Backward()
        optimizer.Step()
        afterStep ()
        let l = loss.Item()
        lossSum <- lossSum + l * float batch.Count
        seen <- seen + batch.Count
        Networks.argmaxRows (logits.Detach())
        |> Array.iteri (fun i p ->
            if int64 p = batch.Labels.[i] then
                correct <- correct + 1)
        report index loader.BatchCount l
        index <- index + 1
    lossSum / float seen, float correct / float seen

/// Trains (or resumes training of) <c>options.Arch</c> on <paramref name="trainSet"/>, evaluating on
/// <paramref name="testSet"/> after each epoch, checkpointing to <see cref="checkpointPath"/> and finally saving the
/// model to <paramref name="out"/> (format by extension). Returns the model and one report per epoch run here.
let train
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
    let loader =
        DataLoader(
            trainSet,
            DataLoaderOptions(
                BatchSize = o.BatchSize,
                Shuffle = true,
                DropLast = false,
                Seed = o.Seed,
                CropPadding = o.CropPadding,
                HorizontalFlip = o.Flip,
                Mean = Option.toObj o.Mean,
                Std = Option.toObj o.Std
            )
        )
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
        | Cosine -> Some(CosineAnnealingLR(optimizer, tMax = o.Epochs * loader.BatchCount))
        | StepDecay(every, gamma) -> Some(StepLR(optimizer, stepSize = every * loader.BatchCount, gamma = gamma))
        | Constant -> None
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
        model.LoadStateDict(saved.Part "model") |> ignore
        optimizer.LoadStateDict(saved.Part "optimizer")
        scheduler |> Option.iter (fun s -> s.LoadStateDict(saved.Part "scheduler"))
        firstEpoch <- int meta.["epochs_done"]
        report (Resumed firstEpoch)
    let evaluateOn (data: LabelledImages) =
        use _ = model.Eval()
        let network = Networks.ZooModel(o.Arch, model)
        (Networks.evaluate device network data o.Mean o.Std 256 (fun _ _ -> ())).Accuracy
    let reports = List<EpochReport>()
    use _ = model.Train()
    for epoch in firstEpoch .. o.Epochs - 1 do
        let clock = System.Diagnostics.Stopwatch.StartNew()
        let lr = optimizer.ParamGroups.[0].Lr
        let loss, accuracy =
            trainEpoch
                device
                model
                optimizer
                loader
                epoch
                (fun () -> scheduler |> Option.iter _.Step())
                (fun index count l -> report (BatchDone(epoch, index, count, l)))
        let test = testSet |> Option.map evaluateOn
        let r =
            { Epoch = epoch
              Loss = loss
              TrainAccuracy = accuracy
              TestAccuracy = test
              LearningRate = lr
              Seconds = clock.Elapsed.TotalSeconds }
        reports.Add r
        writeCheckpoint checkpoint model optimizer scheduler (epoch + 1) o
        report (EpochDone r)
    let meta =
        readOnlyDict [ "arch", o.Arch; "seed", string o.Seed; "epochs", string o.Epochs; "options", optionsJson o ]
    save model [| trainSet.Channels; trainSet.Height; trainSet.Width |] meta out
    model, List.ofSeq reports
