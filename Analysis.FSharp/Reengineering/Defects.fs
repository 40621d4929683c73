/// SeaM's defect-inheritance experiment (their src/defect_inherit): a pretrained model and its re-engineered version
/// are fine-tuned on a target dataset, each with a fresh classifier, and the adversarial images that TransferAttack
/// crafts on the pretrained feature extractor are given to them. A fine-tuned model inherits the defect on a test image
/// it classifies correctly when the image's adversarial twin changes its answer; the defect rate is the share of such
/// images, and re-engineering pays off when the re-engineered model's rate is lower than the original's.
module Hybrid.Analysis.Reengineering.Defects

open System.Collections.Generic
open System.Diagnostics
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Data
open Hybrid.Core.Nn.Modules
open Hybrid.Core.Nn.Optim
open Hybrid.Analysis
open Hybrid.Analysis.Reengineering.MaskedModel
open Hybrid.Analysis.Reengineering.TransferAttack

type Variant =
    /// The original with every weight trainable: standard fine-tuning, the baseline.
    | Standard
    /// The re-engineered model with its masks held fixed: removed weights get no gradient and stay zero.
    | Enforced
    /// SeaM's own fine-tuning (reengineering_finetune.py, step 3): the re-engineered (zeroed) weights as the start,
    /// every weight trainable, so removed weights may grow back.
    | Unenforced

/// The name a variant's model goes by in reports.
let variantName (variant: Variant) =
    match variant with
    | Standard -> "original"
    | Enforced -> "reengineered-enforced"
    | Unenforced -> "reengineered-unenforced"

type Options =
    {
        Epochs: int
        BatchSize: int
        /// SGD's rate for the pretrained layers; the fresh classifier learns at HeadLrFactor times it.
        Lr: float
        Momentum: float
        WeightDecay: float
        Seed: int64
        Mean: float32[] option
        Std: float32[] option
    }

/// The classifier's rate over the other layers' (SeaM's standard_finetune.py).
let headLrFactor = 10.0

/// A short run that finishes in minutes on two cores: SeaM's weight decay 1e-4, with momentum 0.9 in place of their
/// 0 because 2 epochs stand in for their up to 300.
let defaults =
    { Epochs = 2; BatchSize = 64; Lr = 0.01; Momentum = 0.9; WeightDecay = 1e-4; Seed = 0L; Mean = None; Std = None }

let private join (path: string) (name: string) = if path = "" then name else path + "." + name

/// The masks of a re-engineering run by the original's state keys (`<layer>.weight_mask`, `<layer>.bias_mask`),
/// checked against the original's Conv2d and Linear layers: a mask of the same shape for every weight and bias, and
/// no other mask. `path` names the file in errors.
let checkMasks (path: string) (masks: IReadOnlyDictionary<string, Tensor>) (original: Module) =
    let problem fmt =
        Printf.kprintf (fun text -> Input.fail "%s: the masks do not fit the original model: %s" path text) fmt
    let expected =
        [ for layerPath, layer in maskableLayers original do
              yield join layerPath "weight_mask", layer.Weight
              if not (isNull layer.Bias) then
                  yield join layerPath "bias_mask", layer.Bias ]
    for key, value in expected do
        match masks.TryGetValue key with
        | true, mask when mask.Shape <> value.Shape ->
            problem
                "model.%s has shape %s, the layer's tensor %s"
                key
                (ShapeOps.Format mask.Shape)
                (ShapeOps.Format value.Shape)
        | true, _ -> ()
        | false, _ -> problem "no mask model.%s" key
    let known = expected |> List.map fst |> set
    match masks.Keys |> Seq.tryFind (fun k -> not (known.Contains k)) with
    | Some key -> problem "model.%s belongs to no Conv2d or Linear of it" key
    | None -> ()

/// The share of the weights and biases that the masks keep.
let keptShare (masks: IReadOnlyDictionary<string, Tensor>) =
    let scores = masks.Values |> Seq.collect (fun m -> m.ToArray<float32>()) |> Array.ofSeq
    float (scores |> Array.filter (fun s -> s > 0f) |> Array.length) / float scores.Length

/// A copy of `value` with the elements whose score is not positive set to zero (the binarised mask applied).
let private masked (value: Tensor) (scores: Tensor) =
    let s = scores.ToArray<float32>()
    let v = value.ToArray<float32>() |> Array.mapi (fun i x -> if s.[i] > 0f then x else 0f)
    Tensor.Wrap(v, value.Shape, value.Device)

/// The classifier's path and layer in a model the defect experiment can use (one with a Linear).
let classifierOf (model: Module) =
    match finalLinear model with
    | Some found -> found
    | None -> Input.fail "defects: the model has no Linear layer to replace by a fresh classifier"

/// The model `variant` fine-tunes. `build ()` gives the architecture with a fresh, seeded classifier for the target
/// dataset; every other tensor comes from the original, multiplied by its mask for the re-engineered variants. For
/// Enforced every layer but the classifier is masked in place with the masks fixed (scores without gradient), so the
/// masked forward pass gives removed weights no gradient; they are zero already, so weight decay keeps them zero.
let prepare (build: unit -> Module) (original: Module) (masks: IReadOnlyDictionary<string, Tensor>) (variant: Variant) =
    let model = build ()
    let classifierPath, _ = classifierOf model
    let isClassifier (key: string) = key.StartsWith(join classifierPath "")
    let state =
        [ for struct (key, value) in original.StateDict() do
              if not (isClassifier key) then
                  match variant, masks.TryGetValue(key + "_mask") with
                  | (Enforced | Unenforced), (true, scores) -> key, masked value scores
                  | _ -> key, value ]
    let loaded = model.LoadStateDict(readOnlyDict state, strict = false)
    if loaded.UnexpectedKeys.Count > 0 || loaded.MissingKeys |> Seq.exists (isClassifier >> not) then
        invalidOp $"defects: the original's state does not fill the fine-tuned model: {loaded}"
    if variant = Enforced then
        for path, layer in maskableLayers model do
            if path <> classifierPath then
                layer.EnableMask()
        let fixedMasks =
            [ for kv in masks do
                  if not (isClassifier kv.Key) then
                      kv.Key, kv.Value ]
        model.LoadStateDict(readOnlyDict fixedMasks, strict = false) |> ignore
        for struct (key, scores) in model.NamedParameters() do
            if key.EndsWith "_mask" then
                scores.RequiresGrad <- false
    model

/// The share of the weights and biases of every Conv2d and Linear but the classifier that are not zero in the model's
/// computation (its effective weights where masked).
let nonzeroShare (model: Module) =
    let classifierPath, _ = classifierOf model
    let values =
        [ for path, layer in maskableLayers model do
              if path <> classifierPath then
                  yield layer.EffectiveWeight()
                  match layer.EffectiveBias() with
                  | null -> ()
                  | bias -> yield bias ]
    let nonzero = values |> List.sumBy (Array.sumBy (fun v -> if v <> 0f then 1 else 0))
    float nonzero / float (values |> List.sumBy _.Length)

type EpochReport = { Epoch: int; Loss: float; TrainAccuracy: float; Seconds: float }

type FineTuneProgress =
    /// A batch finished: epoch (from 1), batch index, batches per epoch.
    | BatchDone of epoch: int * index: int * count: int
    | EpochDone of EpochReport

/// Fine-tunes `model` on `train`: SGD over every parameter that records gradients, the classifier at HeadLrFactor
/// times the rate, BatchNorm in training mode, batches in a seeded order, no augmentation. Returns one report per epoch.
let fineTune
    (device: Hybrid.Core.Gpu.Device)
    (o: Options)
    (model: Module)
    (train: LabelledImages)
    (report: FineTuneProgress -> unit)
    =
    let _, classifier = classifierOf model
    let head = HashSet<Tensor>(classifier.Parameters(), HashIdentity.Reference)
    let body = model.Parameters() |> Seq.filter (fun p -> p.RequiresGrad && not (head.Contains p))
    let optimizer =
        SGD(
            [ ParamGroup(body)
              ParamGroup(classifier.Parameters(), readOnlyDict [ OptionNames.Lr, o.Lr * headLrFactor ]) ],
            o.Lr,
            momentum = o.Momentum,
            weightDecay = o.WeightDecay
        )
    let loader = DataLoader(train, Networks.shuffled o.BatchSize o.Seed 0 false o.Mean o.Std)
    use _ = model.Train()
    [ for epoch in 1 .. o.Epochs ->
          let clock = Stopwatch.StartNew()
          let loss, accuracy =
              Training.trainEpoch device model optimizer loader (epoch - 1) ignore (fun i n _ ->
                  report (BatchDone(epoch, i, n)))
          let r = { Epoch = epoch; Loss = loss; TrainAccuracy = accuracy; Seconds = clock.Elapsed.TotalSeconds }
          report (EpochDone r)
          r ]

/// The class each model predicts for every image of `batches` (inputs as the model takes them), in order.
let predict (model: Module) (batches: Tensor list) =
    use _ = model.Eval()
    use _ = Autograd.NoGrad()
    batches |> List.map (model.Call >> Networks.argmaxRows) |> Array.concat

/// What the transferred attack did to one fine-tuned model on the test images.
type Outcome =
    {
        CleanAccuracy: float
        AdversarialAccuracy: float
        /// Test images the model classifies correctly, and those of them whose adversarial twin it classifies otherwise.
        CleanCorrect: int
        Flipped: int
        /// Flipped / CleanCorrect (SeaM's "attack success rate"); None when the model gets no test image right.
        DefectRate: float option
    }

/// The outcome from the true labels and the model's predictions on the clean and the adversarial images.
let outcome (labels: int64[]) (clean: int[]) (adversarial: int[]) =
    let n = labels.Length
    let right (predictions: int[]) i = int64 predictions.[i] = labels.[i]
    let correct = [ 0 .. n - 1 ] |> List.filter (right clean)
    let flipped = correct |> List.filter (right adversarial >> not) |> List.length
    { CleanAccuracy = float correct.Length / float n
      AdversarialAccuracy = float ([ 0 .. n - 1 ] |> List.filter (right adversarial) |> List.length) / float n
      CleanCorrect = correct.Length
      Flipped = flipped
      DefectRate = (if correct.IsEmpty then None else Some(float flipped / float correct.Length)) }

/// How much lower `rate` is than the baseline's, relative to it ((baseline - rate) / baseline); None when either is
/// unknown or the baseline is zero.
let reduction (baseline: float option) (rate: float option) =
    match baseline, rate with
    | Some b, Some r when b > 0.0 -> Some((b - r) / b)
    | _ -> None

/// The target dataset as the model takes it: grey images repeated to the model's `channels`, smaller images
/// zero-padded to size x size (Fashion-MNIST as 3 x 32 x 32 for a CIFAR model). `spec` names the dataset in errors.
let fitImages (spec: string) (channels: int) (size: int) (data: LabelledImages) =
    let data =
        if data.Channels = channels then data
        elif data.Channels = 1 then data.RepeatChannel channels
        else Input.fail "%s: the images have %d channels, the model takes %d" spec data.Channels channels
    if data.Height > size || data.Width > size then
        Input.fail "%s: the %dx%d images are larger than --image-size %d" spec data.Height data.Width size
    elif data.Height < size || data.Width < size then
        data.PadTo(size, size)
    else
        data
