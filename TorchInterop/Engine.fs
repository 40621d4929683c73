/// TorchSharp as a second engine: a zoo network of Core.Nn handed to its TorchSharp twin (the same structure and
/// weights), which then computes the forward passes in libtorch.
module Hybrid.TorchInterop.Engine

open TorchSharp
open Hybrid.Core.Nn
open Hybrid.Analysis
open Hybrid.TorchInterop.Tensors

/// What the engine reports itself as in results and benchmark tables.
let name = $"TorchSharp {typeof<torch>.Assembly.GetName().Version.ToString 3} (libtorch {torch.__version__})"

/// Logits of `m` for a Core.Nn batch, in evaluation mode with recording off; the batch reaches libtorch without a copy
/// and every intermediate libtorch tensor is freed before the call returns.
let forward (m: TorchModule) (x: Tensor) : Tensor =
    use _ = torch.NewDisposeScope()
    use _ = torch.no_grad ()
    m.eval ()
    use input = Tensors.toTorch x
    Tensors.ofTorchOn x.Device (m.call input)

/// The network moved onto the TorchSharp engine: a zoo model becomes its TorchSharp twin. An ONNX graph has no
/// TorchSharp form here, which is the user's to change (InputException).
let network (n: Networks.Network) : Networks.Network =
    match n with
    | Networks.ZooModel(arch, m) ->
        Torch.require ()
        let twin = StateDicts.fromCore m
        Networks.Engine($"{arch}, {m.ParameterCount():N0} parameters, on {name}", forward twin)
    | Networks.OnnxGraph(path, _) ->
        raise (InputException(path, "--engine torchsharp runs zoo architectures; run an ONNX graph with --engine core"))
    | Networks.Engine _ -> n
