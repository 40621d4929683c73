/// SeaM's mask training: two Adam optimisers (the head alone at lr_head; masks at lr_mask together with the head),
/// the head-only epoch every fifth epoch (0, 5, 10, ...), loss cross-entropy + alpha * weight ratio, BatchNorm in
/// evaluation mode, batch 64 with SeaM's augmentation (random crop with 4-pixel padding, horizontal flip). After each
/// epoch the model is scored on the validation part and SeaM's rule keeps the best epoch; a checkpoint after each epoch
/// lets an interrupted run resume and end exactly where an uninterrupted one ends.
module Hybrid.Analysis.Reengineering.MaskTraining

open System
open System.IO
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Data
open Hybrid.Core.Nn.Optim
open Hybrid.Analysis
open Hybrid.Analysis.Reengineering.MaskedModel

type Schedule =
    /// SeaM's: alpha constant, scores starting at 1.
    | Published
    /// Beyond SeaM: scores start at each weight's magnitude over its layer's mean magnitude (all kept, the smallest
    /// nearest to removal), and alpha is held by a controller that steers the weight ratio down a target curve from 1
    /// to FastTarget over FastRampEpochs epochs, then holds it there (see `targetRatio` and `controlAlpha`).
    | Fast

type Options =
    {
        LrMask: float
        LrHead: float
        Alpha: float
        Epochs: int
        BatchSize: int
        Seed: int64
        Schedule: Schedule
        /// Stop once this share of the weights is removed (SeaM's prune_threshold); None trains every epoch.
        PruneThreshold: float option
        FastTarget: float
        FastRampEpochs: int
        Mean: float32[] option
        Std: float32[] option
    }

/// SeaM's published settings for ResNet-20 on CIFAR-10 (lr_mask 0.05, alpha 1, lr_head 0.1, batch 64, 300 epochs).
let defaults =
    { LrMask = 0.05
      LrHead = 0.1
      Alpha = 1.0
      Epochs = 300
      BatchSize = 64
      Seed = 0L
      Schedule = Published
      PruneThreshold = None
      FastTarget = 0.12
      FastRampEpochs = 40
      Mean = None
      Std = None }

type EpochReport =
    { Epoch: int
      HeadOnly: bool
      Loss: float
      CrossEntropy: float
      WeightRatio: float
      TrainAccuracy: float
      ValidationAccuracy: float
      Alpha: float
      Seconds: float }

type Progress = Training.EpochProgress<EpochReport>

/// The epoch SeaM's rule keeps, with its validation accuracy and weight ratio.
type Selected = { Epoch: int; Accuracy: float; Ratio: float }

/// SeaM's selection, as a fold over epochs: among epochs whose validation accuracy reaches the original model's, the
/// lowest weight ratio at 0.1% granularity, ties to higher accuracy; until one reaches it, the best accuracy - ratio.
type Selection =
    { Reached: Selected option
      Fallback: Selected option }

    /// The epoch kept so far.
    member s.Kept = Option.orElse s.Fallback s.Reached

    /// The selection after one more epoch, and whether that epoch is now the one kept.
    member s.Add (original: float) (e: Selected) =
        let permille (r: float) = int (floor (r * 1000.0))
        let better =
            e.Accuracy >= original
            && (match s.Reached with
                | None -> true
                | Some b ->
                    permille e.Ratio < permille b.Ratio
                    || (permille e.Ratio = permille b.Ratio && e.Accuracy > b.Accuracy))
        let fallback =
            match s.Fallback with
            | Some b when b.Accuracy - b.Ratio >= e.Accuracy - e.Ratio -> s.Fallback
            | _ -> Some e
        let next = { Reached = (if better then Some e else s.Reached); Fallback = fallback }
        next, next.Kept = Some e

let private emptySelection = { Reached = None; Fallback = None }

/// The fast schedule's target ratio after `progress` epochs (fractional): an exponential decay from 1 that reaches
/// FastTarget at FastRampEpochs and stays there. A constant relative rate asks the controller for a steady alpha,
/// where a straight line asks for ever more as the weights left matter more (a first try with a line overshot from
/// 26% to 10% of the weights in two epochs and lost 8 points of validation accuracy).
let targetRatio (o: Options) (progress: float) =
    max o.FastTarget (o.FastTarget ** (progress / float (max 1 o.FastRampEpochs)))

/// One step of the fast schedule's controller: Adam scales every score's step to about lr_mask whatever the size of
/// its gradient, so only the sign balance of alpha / N against the cross-entropy's noise moves the ratio; alpha is
/// multiplied by 1.03 after a step that leaves the ratio above the target and divided by it otherwise (at most 1.75x
/// per epoch of 19 steps, slow against Adam's momentum), never below the published alpha: below the target line the
/// cross-entropy is left to win weights back at SeaM's own pressure.
let controlAlpha (floor: float) (alpha: float) (ratio: float) (target: float) =
    Math.Clamp((if ratio > target then alpha * 1.03 else alpha / 1.03), floor, 1e6)

/// Scores from weight magnitudes for the fast schedule: |w| / mean |w| per layer (biases keep 1).
let private magnitudeScores (net: ReengineeredNet) =
    use _ = Autograd.NoGrad()
    for _, layer in net.Layers do
        let w = layer.Weight.Span<float32>()
        let mutable sum = 0.0
        for v in w do
            sum <- sum + float (abs v)
        let mean = if w.Length = 0 || sum = 0.0 then 1.0 else sum / float w.Length
        let s = layer.WeightMask.Span<float32>()
        for i in 0 .. s.Length - 1 do
            s.[i] <- float32 (float (abs w.[i]) / mean)

/// SeaM's two optimisers: Adam over the head alone (lr_head), and Adam over the mask scores (lr_mask) with the head
/// (lr_head).
let optimizers (net: ReengineeredNet) (o: Options) =
    let headParameters = List.ofSeq (net.Head.Parameters())
    Adam(headParameters, lr = o.LrHead),
    Adam(
        [ ParamGroup(maskScores net, readOnlyDict [ OptionNames.Lr, o.LrMask ])
          ParamGroup(headParameters, readOnlyDict [ OptionNames.Lr, o.LrHead ]) ]
    )

/// Training mode with every BatchNorm in evaluation mode (SeaM's fix_bn: running statistics frozen); disposing
/// restores every module's mode.
let trainingMode (net: ReengineeredNet) =
    let train = net.Train()
    let frozen =
        net.NamedModules()
        |> Seq.choose (fun struct (_, m) ->
            match m with
            | :? Modules.BatchNorm as bn -> Some(bn.Eval())
            | _ -> None)
        |> List.ofSeq
    { new IDisposable with
        member _.Dispose() =
            for f in List.rev frozen do
                f.Dispose()
            train.Dispose() }

/// One step on a batch: cross-entropy of the head's output, backward, the weight ratio's gradient on the scores (not in
/// head-only epochs), the optimiser's step. Returns the cross-entropy and the logits.
let step (net: ReengineeredNet) (optimizer: Optimizer) (headOnly: bool) (alpha: float) (x: Tensor) (y: Tensor) =
    let logits =
        if headOnly then
            // The head alone learns: the original's output needs no graph behind it.
            let features =
                use _ = Autograd.NoGrad()
                net.Model.Call x
            net.Head.Call features
        else
            net.Call x
    let ce = Functional.CrossEntropy(logits, y)
    optimizer.ZeroGrad()
    ce.Backward()
    if not headOnly then
        addRatioGradient net alpha
    optimizer.Step()
    ce.Item(), logits

/// SeaM's optimisation as the engine running it performs it: Core.Nn's (`coreEngine`), or another engine's that trains
/// a twin of the net (TorchInterop's, on TorchSharp) and hands its scores and head back through `Sync`.
type Learner =
    /// The engine's name, recorded in the checkpoint: a checkpoint resumes only on the engine that wrote it.
    abstract Engine: string
    /// One step on a batch, as `step`: returns the cross-entropy and the logits.
    abstract Step: headOnly: bool * alpha: float * x: Tensor * y: Tensor -> float * Tensor
    /// Leaves the engine's mask scores and head in the Core.Nn net, which the ratio, validation and checkpoints read.
    abstract Sync: unit -> unit
    /// The optimisers' state as checkpoint parts.
    abstract State: unit -> (string * seq<string * Tensor>) list
    /// Loads the state `State` wrote from a checkpoint.
    abstract Load: Checkpoint.Saved -> unit

/// Makes the learner of a prepared net (its scores already set) from the options.
type Engine = Options -> ReengineeredNet -> Learner

/// Core.Nn's learner: SeaM's two Adam optimisers and `step`.
let coreEngine: Engine =
    fun o net ->
        let optimHead, optimBoth = optimizers net o
        { new Learner with
            member _.Engine = "core"
            member _.Step(headOnly, alpha, x, y) =
                let c, logits = step net (if headOnly then optimHead else optimBoth) headOnly alpha x y
                c, logits.Detach()
            member _.Sync() = ()
            member _.State() =
                [ "optim_head", Checkpoint.dictState (optimHead.StateDict())
                  "optim_both", Checkpoint.dictState (optimBoth.StateDict()) ]
            member _.Load saved =
                optimHead.LoadStateDict(saved.Part "optim_head")
                optimBoth.LoadStateDict(saved.Part "optim_both") }

/// Where a run keeps its checkpoint inside its output folder.
let checkpointPath (outDir: string) = Path.Combine(outDir, "checkpoint.safetensors")

/// The options a checkpoint records; resuming with other ones is refused.
let private optionsText (o: Options) = sprintf "%A" o

/// Copies of the trained tensors (mask scores and head), to keep a selected epoch.
let private snapshot (net: ReengineeredNet) =
    net.StateDict()
    |> Seq.filter (fun struct (k, _) -> k.StartsWith "head." || k.EndsWith "_mask")
    |> Seq.map (fun struct (k, v) -> k, v.Clone())
    |> List.ofSeq

let private restore (net: ReengineeredNet) (state: (string * Tensor) list) =
    net.LoadStateDict(readOnlyDict state, strict = false) |> ignore

let private historyColumns = 9

let private historyRow (r: EpochReport) =
    [| float r.Epoch
       (if r.HeadOnly then 1.0 else 0.0)
       r.Loss
       r.CrossEntropy
       r.WeightRatio
       r.TrainAccuracy
       r.ValidationAccuracy
       r.Alpha
       r.Seconds |]

let private ofHistoryRow (v: float[]) =
    { Epoch = int v.[0]
      HeadOnly = v.[1] <> 0.0
      Loss = v.[2]
      CrossEntropy = v.[3]
      WeightRatio = v.[4]
      TrainAccuracy = v.[5]
      ValidationAccuracy = v.[6]
      Alpha = v.[7]
      Seconds = v.[8] }

let private selectedText (s: Selected option) =
    match s with
    | Some s -> $"{s.Epoch} {s.Accuracy:R} {s.Ratio:R}"
    | None -> ""

let private parseSelected (text: string) =
    match text.Split ' ' with
    | [| e; a; r |] -> Some { Epoch = int e; Accuracy = float a; Ratio = float r }
    | _ -> None

/// The accuracy of `net` on `data` (its outputs against the problem's labels).
let accuracy (device: Hybrid.Core.Gpu.Device) (net: Modules.Module) (data: LabelledImages) (o: Options) =
    let pass = Networks.pass device (Networks.ZooModel("reengineered", net)) data 256
    (Networks.evaluate { pass with Mean = o.Mean; Std = o.Std }).Accuracy

/// Trains the masks and head of `net` on `train`, scoring each epoch on `validation` against the original model's
/// validation accuracy `original`; checkpoints into outDir and resumes from there when `resume` is set. Leaves `net`
/// holding the selected epoch's masks and head; returns every epoch's report (resumed ones included) and the choice.
/// `engine` runs the steps.
let trainWith
    (engine: Engine)
    (device: Hybrid.Core.Gpu.Device)
    (o: Options)
    (net: ReengineeredNet)
    (train: LabelledImages)
    (validation: LabelledImages)
    (original: float)
    (outDir: string)
    (resume: bool)
    (report: Progress -> unit)
    =
    if o.Epochs < 1 then
        Input.fail "reengineer: --epochs %d must be at least 1" o.Epochs
    if not (o.LrMask > 0.0 && o.LrHead > 0.0 && o.Alpha >= 0.0) then
        Input.fail
            "reengineer: --lr-mask %g and --lr-head %g must be positive and --alpha %g not negative"
            o.LrMask
            o.LrHead
            o.Alpha
    if train.Count = 0 || validation.Count = 0 then
        Input.fail
            "reengineer: the training (%d images) and validation (%d images) parts must not be empty"
            train.Count
            validation.Count
    // SeaM's augmentation: random crops after 4-pixel zero padding, horizontal flips.
    let loader = DataLoader(train, Networks.shuffled o.BatchSize o.Seed 4 true o.Mean o.Std)
    Directory.CreateDirectory outDir |> ignore
    let checkpoint = checkpointPath outDir
    let history = ResizeArray<EpochReport>()
    let mutable selection = emptySelection
    let mutable kept: (string * Tensor) list = []
    let mutable alpha = o.Alpha
    if o.Schedule = Fast then
        magnitudeScores net
    let saved = if resume && File.Exists checkpoint then Some(Checkpoint.read checkpoint) else None
    for saved in Option.toList saved do
        if saved.Metadata.["options"] <> optionsText o then
            raise (
                InputException(
                    checkpoint,
                    "the checkpoint was written with other options; resume with the same ones or delete it"
                )
            )
        net.LoadStateDict(saved.Part "net") |> ignore
    // Made from the net as it resumes, so that an engine's twin starts from the checkpoint's scores and head.
    let learner = engine o net
    for saved in Option.toList saved do
        let written = Training.checkpointEngine saved
        if written <> learner.Engine then
            raise (
                InputException(
                    checkpoint,
                    $"the checkpoint was written on --engine {written}; resume on that engine or delete it"
                )
            )
        learner.Load saved
        kept <- saved.Part "kept" |> Seq.map (fun kv -> kv.Key, kv.Value) |> List.ofSeq
        let h = (saved.Part "history").["rows"]
        let rows = h.ToArray<float>()
        for i in 0 .. rows.Length / historyColumns - 1 do
            history.Add(ofHistoryRow rows.[i * historyColumns .. (i + 1) * historyColumns - 1])
        alpha <- float saved.Metadata.["alpha"]
        selection <-
            { Reached = parseSelected saved.Metadata.["reached"]; Fallback = parseSelected saved.Metadata.["fallback"] }
        report (Training.Resumed history.Count)
    let pruned () =
        match o.PruneThreshold, history |> Seq.tryLast with
        | Some t, Some last -> 1.0 - last.WeightRatio >= t
        | _ -> false
    let mutable epoch = history.Count
    while epoch < o.Epochs && not (pruned ()) do
        let clock = System.Diagnostics.Stopwatch.StartNew()
        let headOnly = epoch % 5 = 0
        let mutable lossSum, ceSum, ratioSum, correct, seen, batches = 0.0, 0.0, 0.0, 0, 0, 0
        do
            use _ = trainingMode net
            for batch in loader.Epoch epoch do
                let x = Networks.batchTensor device batch
                let y = Tensor.Wrap(batch.Labels, [| batch.Count |], device)
                let ratio = weightRatio net
                let c, logits = learner.Step(headOnly, alpha, x, y)
                learner.Sync()
                if not headOnly && o.Schedule = Fast then
                    let progress = float epoch + float (batches + 1) / float loader.BatchCount
                    alpha <- controlAlpha o.Alpha alpha (weightRatio net) (targetRatio o progress)
                lossSum <- lossSum + (c + alpha * ratio) * float batch.Count
                ceSum <- ceSum + c * float batch.Count
                ratioSum <- ratioSum + ratio * float batch.Count
                seen <- seen + batch.Count
                batches <- batches + 1
                Networks.argmaxRows logits
                |> Array.iteri (fun i p ->
                    if int64 p = batch.Labels.[i] then
                        correct <- correct + 1)
                report (Training.BatchDone(epoch, batches - 1, loader.BatchCount, c))
        let ratio = weightRatio net
        let valAccuracy = accuracy device net validation o
        let r =
            { Epoch = epoch
              HeadOnly = headOnly
              Loss = lossSum / float seen
              CrossEntropy = ceSum / float seen
              WeightRatio = ratio
              TrainAccuracy = float correct / float seen
              ValidationAccuracy = valAccuracy
              Alpha = alpha
              Seconds = clock.Elapsed.TotalSeconds }
        history.Add r
        let next, isKept = selection.Add original { Epoch = epoch; Accuracy = valAccuracy; Ratio = ratio }
        selection <- next
        if isKept then
            kept <- snapshot net
        let rows = history |> Seq.collect historyRow |> Array.ofSeq
        Checkpoint.write
            checkpoint
            ([ "net", Checkpoint.moduleState net ]
             @ learner.State()
             @ [ "kept", Seq.ofList kept
                 "history", Seq.ofList [ "rows", Tensor.Wrap(rows, [| history.Count; historyColumns |]) ] ])
            [ "options", optionsText o
              "engine", learner.Engine
              "alpha", alpha.ToString "R"
              "reached", selectedText selection.Reached
              "fallback", selectedText selection.Fallback ]
        report (Training.EpochDone r)
        epoch <- epoch + 1
    restore net kept
    List.ofSeq history, selection.Kept

/// `trainWith` on Core.Nn's learner.
let train device o net train validation original outDir resume report =
    trainWith coreEngine device o net train validation original outDir resume report
