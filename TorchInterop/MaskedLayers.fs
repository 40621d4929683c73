/// Hybrid's masked conv2d and linear as TorchSharp autograd functions and modules: the forward pass and every gradient
/// (input, weight, bias, and the mask scores by SeaM's straight-through rules) are computed by Core.Nn's ops on
/// Core.Gpu's kernels, so a TorchSharp model can be masked and trained with exactly the kernels `hybrid reengineer` uses.
module Hybrid.TorchInterop.MaskedLayers

open System.Collections.Generic
open TorchSharp
open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.TorchInterop.Tensors

/// Which masked op a call runs, with its geometry and the scores' gradient rule: passed to TorchSharp's function as one
/// non-tensor argument.
type MaskedOp =
    | Conv2d of stride: Size2 * padding: Size2 * dilation: Size2 * groups: int * rule: MaskGradient
    | Linear of rule: MaskGradient

/// The Core.Nn graph of one call: its inputs (None where the call had no bias) and its output, kept for the backward.
type private Recorded = { Inputs: Tensor option list; Output: Tensor }

let private run (op: MaskedOp) (t: Tensor option list) =
    let x, w, s, b, bs = t.[0].Value, t.[1].Value, t.[2].Value, Option.toObj t.[3], Option.toObj t.[4]

    match op with
    | Conv2d(stride, padding, dilation, groups, rule) ->
        Functional.MaskedConv2d(x, w, s, b, bs, stride, padding, dilation, groups, rule)
    | Linear rule -> Functional.MaskedLinear(x, w, s, b, bs, rule)

/// TorchSharp's autograd function around Core.Nn's masked ops. Arguments: input, weight, weight scores, bias (or
/// null), bias scores (or null), MaskedOp.
type MaskedFunction() =
    inherit torch.autograd.SingleTensorFunction<MaskedFunction>()

    override _.Name = "HybridMasked"

    override _.forward(ctx, vars) =
        let op = vars.[5] :?> MaskedOp

        let inputs =
            [ for v in vars.[0..4] ->
                  match v with
                  | :? torch.Tensor as t ->
                      let c = Tensors.ofTorch t
                      c.RequiresGrad <- t.requires_grad
                      Some c
                  | _ -> None ]

        let recording = inputs |> List.exists (Option.exists _.RequiresGrad)

        let output =
            if recording then
                run op inputs
            else
                use _ = Autograd.NoGrad()
                run op inputs

        if recording then
            ctx.save_data ("graph", { Inputs = inputs; Output = output })

        Tensors.toTorch output

    override _.backward(ctx, gradOutput) =
        let graph = ctx.get_data "graph" :?> Recorded
        graph.Output.Backward(Tensors.ofTorch gradOutput)

        let grads =
            [ for i in graph.Inputs ->
                  match i with
                  | Some t when t.RequiresGrad && not (isNull t.Grad) -> Tensors.toTorch t.Grad
                  | _ -> null ]

        List<torch.Tensor>(grads @ [ null ])

/// Applies the masked function: weight * 1[scores > 0] (bias likewise) in the op, gradients for all five tensors.
let apply
    (op: MaskedOp)
    (x: TorchTensor)
    (w: TorchTensor)
    (scores: TorchTensor)
    (b: TorchTensor)
    (bScores: TorchTensor)
    =
    MaskedFunction.apply (x, w, scores, b, bScores, op)

/// A masked layer as a TorchSharp module with Core.Nn's state keys: `weight`, `bias`, `weight_mask`, `bias_mask`.
type MaskedLayer(typeName: string, op: MaskedOp, weight: TorchTensor, bias: TorchTensor) as this =
    inherit TorchModule(typeName)

    let parameter (t: TorchTensor) = torch.nn.Parameter(t.detach().clone())

    do
        this.register_parameter ("weight", parameter weight)
        this.register_parameter ("weight_mask", parameter (torch.ones_like weight))

        if not (isNull bias) then
            this.register_parameter ("bias", parameter bias)
            this.register_parameter ("bias_mask", parameter (torch.ones_like bias))

    member _.Op = op

    /// PyTorch's class name of the layer this one mirrors (Conv2d or Linear).
    member _.TypeName = typeName

    override m.forward(x) =
        let get name =
            match m.get_parameter name with
            | null -> null
            | p -> p :> TorchTensor

        apply op x (get "weight") (get "weight_mask") (get "bias") (get "bias_mask")
