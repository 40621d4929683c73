/// A model prepared for SeaM's re-engineering: every Conv2d and Linear of the original masked in place (scores start
/// at 1, SeaM's clipped straight-through gradient), every original weight, bias and BatchNorm value frozen, and SeaM's
/// new head ReLU -> Linear(C, k) after the original logits.
module Hybrid.Analysis.Reengineering.MaskedModel

open System
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Modules
open Hybrid.Analysis

/// The layers of `model` that masks apply to (Conv2d and Linear), with their module paths.
let maskableLayers (model: Module) =
    model.NamedModules()
    |> Seq.choose (fun struct (path, m) ->
        match m with
        | :? MaskableLayer as layer -> Some(path, layer)
        | _ -> None)
    |> List.ofSeq

/// The original model followed by the head; state keys `model.*` (the original's, with `weight_mask` / `bias_mask`
/// beside each masked weight) and `head.1.weight` / `head.1.bias`.
type ReengineeredNet(model: Module, head: Sequential) as this =
    inherit Module()

    do
        this.RegisterModule("model", model) |> ignore
        this.RegisterModule("head", head) |> ignore

    member _.Model = model
    member _.Head = head

    /// The original model's masked layers with their module paths, in module order.
    member _.Layers = maskableLayers model

    override _.TypeName = "ReengineeredModel"
    override _.Forward(x: Tensor) = head.Call(model.Call x)

/// SeaM's head: ReLU then a linear map from the original's `classes` logits to the `k` outputs of the target problem,
/// initialised as PyTorch's Linear from a generator seeded with `seed`.
let newHead (classes: int) (k: int) (seed: int64) =
    Sequential(ReLU() :> Module, Linear(classes, k, generator = Generator(seed)) :> Module)

/// Freezes `model`, masks its Conv2d and Linear layers in place and puts the head after it. `classes` is the width of
/// the original's output; `k` the target problem's classes.
let prepare (model: Module) (classes: int) (k: int) (seed: int64) =
    let layers = maskableLayers model
    if layers.IsEmpty then
        Input.fail "reengineer: the model has no Conv2d or Linear layer to mask"
    for p in model.Parameters() do
        p.RequiresGrad <- false
    for _, layer in layers do
        if not layer.IsMasked then
            layer.EnableMask()
    new ReengineeredNet(model, newHead classes k seed)

/// The mask score tensors of the original's layers (weights, then biases where present), the parameters SeaM trains.
let maskScores (net: ReengineeredNet) =
    net.Layers |> List.collect (fun (_, l) -> [ l.WeightMask; l.BiasMask ] |> List.filter (isNull >> not))

/// The weights and biases of one layer.
let layerWeights (l: MaskableLayer) = int64 l.Weight.Numel + (if isNull l.Bias then 0L else int64 l.Bias.Numel)

/// The weights and biases of the original's masked layers (the head excluded): SeaM's N.
let weightTotal (net: ReengineeredNet) = net.Layers |> List.sumBy (snd >> layerWeights)

/// Weights and biases kept by the masks, and all of them, over the original's masked layers (the head excluded).
let weightCounts (net: ReengineeredNet) = net.Layers |> List.sumBy (fun (_, l) -> l.KeptCount()), weightTotal net

/// SeaM's weight ratio: the share of the original's weights and biases that the masks keep.
let weightRatio (net: ReengineeredNet) =
    let kept, total = weightCounts net
    float kept / float total

/// Adds the gradient of alpha * weight_ratio to every mask score: under SeaM's straight-through binarisation each
/// score's share of the ratio has gradient 1 / N (N weights and biases in all), whether or not it is kept now.
let addRatioGradient (net: ReengineeredNet) (alpha: float) =
    // Only N is needed here: counting the kept scores would be a pass over every mask per step for nothing.
    let push = float32 (alpha / float (weightTotal net))
    for scores in maskScores net do
        if isNull scores.Grad then
            scores.Grad <- scores.ZerosLike()
        let g = scores.Grad.Span<float32>()
        for i in 0 .. g.Length - 1 do
            g.[i] <- g.[i] + push

/// A plain copy of the re-engineered model, as it is published: a fresh original architecture from `build` holding the
/// effective weights (the removed ones zero, no mask tensors), so it keeps its dense shape and loads anywhere the
/// original does, followed by a copy of the head.
let zeroed (net: ReengineeredNet) (build: unit -> Module) =
    let plain = build ()
    let state = Collections.Generic.Dictionary<string, Tensor>()
    for struct (key, value) in net.Model.StateDict() do
        if not (key.EndsWith "_mask") then
            state.[key] <- value
    let join (path: string) (name: string) = if path = "" then name else path + "." + name
    for path, l in net.Layers do
        state.[join path "weight"] <- Tensor.Wrap(l.EffectiveWeight(), l.Weight.Shape, l.Weight.Device)
        match l.EffectiveBias() with
        | null -> ()
        | bias -> state.[join path "bias"] <- Tensor.Wrap(bias, [| bias.Length |], l.Weight.Device)
    plain.LoadStateDict(state) |> ignore
    let linear = net.Head.[1] :?> Linear
    let head = newHead linear.InFeatures linear.OutFeatures 0L
    head.LoadStateDict(net.Head.StateDict() |> Seq.map (fun struct (k, v) -> k, v) |> readOnlyDict) |> ignore
    new ReengineeredNet(plain, head)

/// The zeroed model that `hybrid reengineer` publishes (model.safetensors: the original architecture named by the
/// file's `arch` metadata, keys `model.*`, and the head, `head.1.*`), loaded onto device.
let loadZeroed (device: Hybrid.Core.Gpu.Device) (path: string) =
    let state = Hybrid.Core.Nn.Formats.StateDicts.Load path
    let arch =
        use file = Hybrid.Core.Nn.Formats.Safetensors.SafetensorsFile.Open path
        match file.Metadata.TryGetValue "arch" with
        | true, a -> a
        | _ -> raise (InputException(path, "no 'arch' metadata: not a model written by hybrid reengineer"))
    let head =
        match state.TryGetValue "head.1.weight" with
        | true, w when w.Dim = 2 -> w
        | _ -> raise (InputException(path, "no head.1.weight matrix: not a model written by hybrid reengineer"))
    let original =
        state
        |> Seq.filter (fun kv -> kv.Key.StartsWith "model.")
        |> Seq.map (fun kv -> kv.Key.Substring 6, kv.Value)
        |> readOnlyDict
    let _, channels = Networks.shapeOf original
    let model = Hybrid.Core.Nn.Zoo.Zoo.Create(arch, numClasses = head.Size 1, inChannels = defaultArg channels 3)
    let net = new ReengineeredNet(model, newHead (head.Size 1) (head.Size 0) 0L)
    Input.guard path (fun () -> net.LoadStateDict(state) |> ignore)
    net.To device |> ignore
    net
