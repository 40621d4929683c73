/// Hybrid's masked conv2d / linear as TorchSharp autograd functions: forward and gradients against Core.Nn's ops called
/// directly, and against central finite differences in float64.
module Hybrid.Tests.TorchInteropMaskedTests

open System
open Expecto
open TorchSharp
open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.TorchInterop
open Hybrid.TorchInterop.MaskedLayers
open Hybrid.Tests.TorchInteropTests

type private Case =
    {
        Name: string
        Op: MaskedOp
        /// Shapes of input, weight and bias (None: no bias).
        Shapes: int[] * int[] * int[] option
    }

let private cases =
    [ { Name = "conv2d stride 2 padding 1 groups 2, bias"
        Op = MaskedOp.Conv2d(Size2(2, 2), Size2(1, 1), Size2(1, 1), 2, MaskGradient.ClippedStraightThrough)
        Shapes = [| 2; 4; 7; 7 |], [| 6; 2; 3; 3 |], Some [| 6 |] }
      { Name = "conv2d 1x5 kernel dilation 2, no bias"
        Op = MaskedOp.Conv2d(Size2(1, 1), Size2(0, 2), Size2(2, 1), 1, MaskGradient.StraightThrough)
        Shapes = [| 1; 3; 6; 8 |], [| 4; 3; 1; 5 |], None }
      { Name = "linear, bias"
        Op = MaskedOp.Linear MaskGradient.ClippedStraightThrough
        Shapes = [| 5; 9 |], [| 4; 9 |], Some [| 4 |] } ]

/// Input, weight, weight scores (about a third below zero, so masked out), bias, bias scores; float64 or float32.
let private tensors (case: Case) (dtype: ScalarType) =
    let rng = Random 11
    let xs, ws, bs = case.Shapes

    let make (shape: int[]) (shift: float) =
        let values = randomNormal rng (Array.reduce (*) shape) |> Array.map (fun v -> float v + shift)
        let t = Tensor.Wrap(values, shape)
        if dtype = ScalarType.Float32 then t.To(ScalarType.Float32) else t

    [ Some(make xs 0.0)
      Some(make ws 0.0)
      Some(make ws 0.4)
      bs |> Option.map (fun s -> make s 0.0)
      bs |> Option.map (fun s -> make s 0.4) ]

let private coreOp (case: Case) (t: Tensor option list) =
    let x, w, s, b, bs = t.[0].Value, t.[1].Value, t.[2].Value, Option.toObj t.[3], Option.toObj t.[4]

    match case.Op with
    | MaskedOp.Conv2d(stride, padding, dilation, groups, rule) ->
        Functional.MaskedConv2d(x, w, s, b, bs, stride, padding, dilation, groups, rule)
    | MaskedOp.Linear rule -> Functional.MaskedLinear(x, w, s, b, bs, rule)

let private torchInputs (t: Tensor option list) =
    [ for c in t ->
          match c with
          | Some c -> (Tensors.toTorch c).detach().clone().requires_grad_(true)
          | None -> null ]

let private applyTorch (case: Case) (t: torch.Tensor list) = apply case.Op t.[0] t.[1] t.[2] t.[3] t.[4]

let private againstCore (case: Case) =
    let inputs = tensors case ScalarType.Float32
    let projection = Tensor.Wrap(randomNormal (Random 3) 4096, [| 4096 |])

    for i in inputs do
        i |> Option.iter (fun t -> t.RequiresGrad <- true)

    let expected = coreOp case inputs
    let v = Tensor.Wrap(projection.ToArray<float32>().[0 .. expected.Numel - 1], expected.Shape)
    expected.Backward v
    let ts = torchInputs inputs
    let actual = applyTorch case ts
    (actual * Tensors.toTorch v).sum().backward()
    // The same kernels on the same float32 data: equal up to the last bit of a reordered sum.
    closeTo 1e-6 1e-6 "forward" (expected.ToArray<float32>()) ((Tensors.ofTorch actual).ToArray<float32>())

    for name, c, t in List.zip3 [ "input"; "weight"; "weight scores"; "bias"; "bias scores" ] inputs ts do
        match c with
        | Some c ->
            closeTo
                1e-6
                1e-6
                $"{name} gradient"
                (c.Grad.ToArray<float32>())
                ((Tensors.ofTorch t.grad).ToArray<float32>())
        | None -> ()

let private againstFiniteDifferences (case: Case) =
    let ts = torchInputs (tensors case ScalarType.Float64)
    use _ = torch.manual_seed 5L
    let y = applyTorch case ts
    let v = torch.randn_like y
    (y * v).sum().backward()
    let loss () =
        use _ = torch.no_grad ()
        (applyTorch case ts * v).sum().item<float>()

    // The input, weight and bias have true derivatives (the mask is constant near them); the scores' gradient is the
    // straight-through estimate, checked against Core.Nn above.
    for name, t in [ "input", ts.[0]; "weight", ts.[1]; "bias", ts.[3] ] do
        if not (isNull t) then
            let flat = t.detach().view(-1L)
            let analytic = t.grad.view(-1L).data<float>().ToArray()

            let numeric =
                [| for i in 0L .. flat.numel () - 1L ->
                       let original = flat.[i].item<float>()
                       let eps = 1e-6
                       flat.[i] <- torch.tensor (original + eps, torch.ScalarType.Float64)
                       let up = loss ()
                       flat.[i] <- torch.tensor (original - eps, torch.ScalarType.Float64)
                       let down = loss ()
                       flat.[i] <- torch.tensor (original, torch.ScalarType.Float64)
                       (up - down) / (2.0 * eps) |]

            // gradcheck's bounds (1e-6 absolute + 1e-4 relative) for central differences of step 1e-6 in float64.
            closeTo64 1e-6 1e-4 $"{name} gradient vs finite differences" numeric analytic

[<Tests>]
let tests =
    testList
        "torchsharp masked functions"
        [ for case in cases ->
              testList
                  case.Name
                  [ torchCase "forward and gradients equal Core.Nn's" (fun () -> againstCore case)
                    torchCase "gradients equal finite differences" (fun () -> againstFiniteDifferences case) ] ]
