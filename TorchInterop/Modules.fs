/// Zoo architectures as TorchSharp modules: `mirror` builds, for a Core.Nn module, the TorchSharp module of the same
/// structure, whose named modules and state keys are the Core.Nn module's (which are PyTorch's: torchvision's, or the
/// source repository's), so a state dict moves between the two 1:1 and a checkpoint for one loads into the other.
module Hybrid.TorchInterop.Modules

open System
open TorchSharp
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Modules
open Hybrid.Core.Nn.Zoo
open Hybrid.TorchInterop.Tensors
open Hybrid.TorchInterop.MaskedLayers


/// A TorchSharp module made of named children and a forward over them: the containers and architectures of the zoo.
/// Children run through `Run`, which is TorchSharp's `call`, so forward hooks on them fire as in PyTorch.
type Composite
    (typeName: string, children: (string * TorchModule) list, forward: Composite -> TorchTensor -> TorchTensor) as this
    =
    inherit TorchModule(typeName)

    let byName = dict children

    do
        for name, child in children do
            this.register_module (name, child) |> ignore

    /// PyTorch's class name of the module this one mirrors.
    member _.TypeName = typeName

    /// Whether a child of that name exists (optional ones: torchvision's `downsample`, VGG's `avgpool`).
    member _.Has(name: string) = byName.ContainsKey name

    /// The child `name`.
    member _.Child(name: string) = byName.[name]

    /// Runs the child `name` on `x`.
    member _.Run(name: string, x: TorchTensor) = byName.[name].call x

    /// The children's names in registration order.
    member _.ChildNames = List.map fst children

    /// Runs every child in registration order (a Sequential's forward).
    member c.RunAll(x: TorchTensor) = children |> List.fold (fun x (name, _) -> c.Run(name, x)) x

    override c.forward(x: TorchTensor) = forward c x

let private pair (s: Size2) = struct (int64 s.H, int64 s.W)

/// torch.nn.functional.relu, pooling and flattening as the zoo's forwards use them.
let private relu (x: TorchTensor) = torch.nn.functional.relu x

let private globalPoolFlatten (x: TorchTensor) = torch.nn.functional.adaptive_avg_pool2d(x, [| 1L; 1L |]).flatten(1L)

/// akamaster's option-A shortcut: every second row and column, then zero channels on both sides.
let private optionA (pad: int) (x: TorchTensor) =
    let every2 = torch.TensorIndex.Slice(Nullable(), Nullable(), Nullable 2L)
    use strided = x.index (torch.TensorIndex.Colon, torch.TensorIndex.Colon, every2, every2)
    torch.nn.functional.pad (strided, [| 0L; 0L; 0L; 0L; int64 pad; int64 pad |])

let private unsupported (m: Module) =
    InputException(
        m.TypeName,
        "this module type has no TorchSharp counterpart (the zoo's architectures and the layers they use have)"
    )

/// The TorchSharp module with the same structure, hyperparameters and names as `m` (weights freshly initialised by
/// TorchSharp: load them with `StateDicts.copyInto`). Raises InputException for a module type it cannot mirror.
let rec mirror (m: Module) : TorchModule =
    let children () = [ for struct (name, child) in m.NamedChildren() -> name, mirror child ]

    let composite forward = new Composite(m.TypeName, children (), forward) :> TorchModule

    let zeros (t: Tensor) = if isNull t then null else torch.zeros (t.Shape |> Array.map int64)

    match m with
    | :? Conv2d as c when c.IsMasked ->
        let op = MaskedOp.Conv2d(c.Stride, c.Padding, c.Dilation, c.Groups, c.Rule)
        new MaskedLayer(c.TypeName, op, zeros c.Weight, zeros c.Bias)
    | :? Linear as l when l.IsMasked ->
        new MaskedLayer(l.TypeName, MaskedOp.Linear l.Rule, zeros l.Weight, zeros l.Bias)
    | :? Conv2d as c ->
        torch.nn.Conv2d(
            int64 c.InChannels,
            int64 c.OutChannels,
            pair c.KernelSize,
            stride = pair c.Stride,
            padding = pair c.Padding,
            dilation = pair c.Dilation,
            groups = int64 c.Groups,
            bias = not (isNull c.Bias)
        )
    | :? Linear as l -> torch.nn.Linear(int64 l.InFeatures, int64 l.OutFeatures, hasBias = not (isNull l.Bias))
    | :? BatchNorm2d as b ->
        torch.nn.BatchNorm2d(
            int64 b.NumFeatures,
            eps = b.Eps,
            momentum =
                (if b.Momentum.HasValue then
                     b.Momentum.Value
                 else
                     raise (
                         InputException(
                             b.TypeName,
                             "momentum=None (a cumulative average) has no TorchSharp counterpart"
                         )
                     )),
            affine = b.Affine,
            track_running_stats = b.TrackRunningStats
        )
    | :? ReLU -> torch.nn.ReLU()
    | :? ReLU6 -> torch.nn.ReLU6()
    | :? Hardswish -> torch.nn.Hardswish()
    | :? Hardsigmoid -> torch.nn.Hardsigmoid()
    | :? Sigmoid -> torch.nn.Sigmoid()
    | :? Tanh -> torch.nn.Tanh()
    | :? GELU as g ->
        torch.nn.GELU(
            (if g.Approximate = "tanh" then
                 TorchSharp.Modules.GELU.Approximate.tanh
             else
                 TorchSharp.Modules.GELU.Approximate.none),
            false
        )
    | :? LayerNorm as l ->
        torch.nn.LayerNorm(
            l.NormalizedShape |> Array.map int64,
            eps = l.Eps,
            elementwise_affine = l.ElementwiseAffine,
            bias = not (isNull l.Bias)
        )
    | :? Identity -> torch.nn.Identity()
    | :? Dropout as d -> torch.nn.Dropout(d.P)
    | :? Flatten as f -> torch.nn.Flatten(int64 f.StartDim, int64 f.EndDim)
    | :? MaxPool2d as p ->
        torch.nn.MaxPool2d(pair p.KernelSize, pair p.Stride, pair p.Padding, pair p.Dilation, p.CeilMode)
    | :? AvgPool2d as p ->
        torch.nn.AvgPool2d(pair p.KernelSize, pair p.Stride, pair p.Padding, p.CeilMode, p.CountIncludePad)
    | :? AdaptiveAvgPool2d as p -> torch.nn.AdaptiveAvgPool2d(pair p.OutputSize)
    | :? Sequential -> composite (fun c x -> c.RunAll x)
    | :? OptionAShortcut as s -> composite (fun _ x -> optionA s.PadChannels x)
    | :? CifarBasicBlock ->
        composite (fun c x ->
            let y = c.Run("bn2", c.Run("conv2", relu (c.Run("bn1", c.Run("conv1", x)))))
            relu (y + c.Run("shortcut", x)))
    | :? CifarResNet ->
        composite (fun c x ->
            let x = relu (c.Run("bn1", c.Run("conv1", x)))
            let x = c.Run("layer3", c.Run("layer2", c.Run("layer1", x)))
            c.Run("linear", globalPoolFlatten x))
    | :? BasicBlock ->
        composite (fun c x ->
            let y = c.Run("bn2", c.Run("conv2", c.Run("relu", c.Run("bn1", c.Run("conv1", x)))))
            let shortcut = if c.Has "downsample" then c.Run("downsample", x) else x
            c.Run("relu", y + shortcut))
    | :? Bottleneck ->
        composite (fun c x ->
            let y = c.Run("relu", c.Run("bn1", c.Run("conv1", x)))
            let y = c.Run("relu", c.Run("bn2", c.Run("conv2", y)))
            let y = c.Run("bn3", c.Run("conv3", y))
            let shortcut = if c.Has "downsample" then c.Run("downsample", x) else x
            c.Run("relu", y + shortcut))
    | :? ResNet ->
        composite (fun c x ->
            let x = c.Run("maxpool", c.Run("relu", c.Run("bn1", c.Run("conv1", x))))
            let x = [ "layer1"; "layer2"; "layer3"; "layer4" ] |> List.fold (fun x l -> c.Run(l, x)) x
            c.Run("fc", c.Run("avgpool", x).flatten(1L)))
    | :? Vgg ->
        composite (fun c x ->
            let x = c.Run("features", x)
            let x = if c.Has "avgpool" then c.Run("avgpool", x) else x
            c.Run("classifier", x.flatten (1L)))
    | :? SmallCnn -> composite (fun c x -> c.Run("classifier", c.Run("pool", c.Run("features", x)).flatten(1L)))
    | :? DenseLayer as l ->
        composite (fun c x ->
            let y = c.Run("conv1", c.Run("relu1", c.Run("norm1", x)))
            let y = c.Run("conv2", c.Run("relu2", c.Run("norm2", y)))
            if l.DropRate > 0.0 then torch.nn.functional.dropout (y, l.DropRate, c.training) else y)
    | :? DenseBlock ->
        // Concatenating as it goes equals torchvision's cat of the feature list before each layer (as Core.Nn's).
        composite (fun c x -> c.ChildNames |> List.fold (fun x name -> torch.cat ([| x; c.Run(name, x) |], 1L)) x)
    | :? DenseNet -> composite (fun c x -> c.Run("classifier", globalPoolFlatten (relu (c.Run("features", x)))))
    | :? SqueezeExcitation ->
        composite (fun c x ->
            let squeezed = c.Run("activation", c.Run("fc1", c.Run("avgpool", x)))
            c.Run("scale_activation", c.Run("fc2", squeezed)) * x)
    | :? InvertedResidual as r ->
        composite (fun c x ->
            let y = c.Run("block", x)
            if r.Residual then y + x else y)
    | :? MobileNetV3 -> composite (fun c x -> c.Run("classifier", c.Run("avgpool", c.Run("features", x)).flatten(1L)))
    | :? PatchEmbed -> composite (fun c x -> c.Run("norm", c.Run("proj", x).flatten(2L).transpose(1L, 2L)))
    | :? Mlp -> composite (fun c x -> c.RunAll x)
    | :? MixerBlock ->
        composite (fun c x ->
            let mixed = c.Run("mlp_tokens", c.Run("norm1", x).transpose(1L, 2L)).transpose(1L, 2L)
            let x = x + c.Run("drop_path", mixed)
            x + c.Run("drop_path", c.Run("mlp_channels", c.Run("norm2", x))))
    | :? MlpMixer ->
        composite (fun c x ->
            let tokens = c.Run("norm", c.Run("blocks", c.Run("stem", x)))
            c.Run("head", c.Run("head_drop", tokens.mean ([| 1L |]))))
    | :? Hybrid.Analysis.Reengineering.MaskedModel.ReengineeredNet ->
        composite (fun c x -> c.Run("head", c.Run("model", x)))
    | :? DaraMlp ->
        composite (fun c x ->
            let x = relu (c.Run("fc1", x))
            let x = c.Run("dropout", relu (c.Run("fc2", x)))
            let x = c.Run("dropout", relu (c.Run("fc3", x)))
            c.Run("fc4", x))
    | _ -> raise (unsupported m)

/// The child `name` of a module `mirror` made of children (an architecture or a container).
let childNamed (m: TorchModule) (name: string) = (m :?> Composite).Child name
