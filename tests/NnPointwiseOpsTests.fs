/// Core.Nn's element-wise, normalisation, softmax and loss ops: finite-difference gradient checks in float64, the
/// float32 cpu path against the float64 reference path, PyTorch golden values, the autograd engine, traces, bad input.
module Hybrid.Tests.NnPointwiseOpsTests

open System
open System.IO
open Expecto
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Formats

type private F = Functional

/// How a test input's values are drawn.
type private Values =
    /// Standard normal.
    | Normal
    /// Uniform in [low, high): positive denominators and variances.
    | Range of float * float
    /// Uniform in [-5, 5), moved at least 0.1 away from each kink so finite differences never straddle one.
    | Spread of float list
    /// int64 class indices in [0, n).
    | Labels of int

/// A test input; Grad: whether it requires grad (running statistics and labels do not).
type private Input = { Shape: int list; Values: Values; Grad: bool }

let private normal shape = { Shape = shape; Values = Normal; Grad = true }
let private positive shape = { Shape = shape; Values = Range(0.5, 1.5); Grad = true }
let private spread kinks shape = { Shape = shape; Values = Spread kinks; Grad = true }
let private stat shape = { Shape = shape; Values = Range(0.5, 1.5); Grad = false }
let private fixedNormal shape = { normal shape with Grad = false }
let private labels classes shape = { Shape = shape; Values = Labels classes; Grad = false }

type private Case = { Name: string; Inputs: Input list; Op: Tensor[] -> Tensor }

let private case name inputs op = { Name = name; Inputs = inputs; Op = op }

/// Seeded values rounded to float32, so the float32 and float64 runs start from the same numbers.
let private values (seed: int) (input: Input) =
    let g = Generator(int64 seed)
    let shape = Array.ofList input.Shape
    let n = Array.fold (*) 1 shape
    let away kinks x = kinks |> List.fold (fun x k -> if abs (x - k) < 0.1 then x + 0.2 else x) x
    match input.Values with
    | Labels classes -> Tensor.From(Array.init n (fun _ -> int64 (g.NextBits() % uint64 classes)), shape)
    | kind ->
        let draw () =
            match kind with
            | Range(low, high) -> g.Uniform(low, high)
            | Spread kinks -> away kinks (g.Uniform(-5.0, 5.0))
            | _ -> g.NextNormal()
        Tensor.From(Array.init n (fun _ -> float (float32 (draw ()))), shape)

let private prepare (dtype: ScalarType) (device: Device) (c: Case) =
    c.Inputs
    |> List.mapi (fun i input ->
        let t = values (100 + i) input
        let t = (if t.IsFloatingPoint then t.To(dtype) else t).To(device)
        t.RequiresGrad <- input.Grad
        t)
    |> Array.ofList

let private activationKinks = [ -3.0; 0.0; 3.0; 6.0 ]
let private act f shape = case f [ spread activationKinks shape ]
let private ce (reduction: Reduction) (smoothing: float) (t: Tensor[]) =
    F.CrossEntropy(t.[0], t.[1], reduction, smoothing)

/// Batch norm of an input with running statistics, weight and bias over its channels (dimension 1), at PyTorch's default
/// momentum and eps; the running mean is updated in training, a fixed normal tensor in evaluation.
let private batchNorm name (shape: int list) (training: bool) =
    let channels = [ shape.[1] ]
    let runningMean = if training then stat channels else fixedNormal channels
    case name [ normal shape; runningMean; stat channels; normal channels; normal channels ] (fun t ->
        F.BatchNorm(t.[0], t.[1], t.[2], t.[3], t.[4], training))

/// Small shapes for the gradient checks (every element is perturbed twice) and the float32 comparison.
let private cases =
    [ case "add broadcast (2,3,4)+(3,1)" [ normal [ 2; 3; 4 ]; normal [ 3; 1 ] ] (fun t -> F.Add(t.[0], t.[1]))
      case "add broadcast (1,)+(2,3)" [ normal [ 1 ]; normal [ 2; 3 ] ] (fun t -> F.Add(t.[0], t.[1]))
      case "add same shape" [ normal [ 3; 4 ]; normal [ 3; 4 ] ] (fun t -> t.[0] + t.[1])
      case "sub broadcast (2,3,4)-(3,1)" [ normal [ 2; 3; 4 ]; normal [ 3; 1 ] ] (fun t -> F.Sub(t.[0], t.[1]))
      case "sub broadcast (1,)-(2,3)" [ normal [ 1 ]; normal [ 2; 3 ] ] (fun t -> t.[0] - t.[1])
      case "mul broadcast (2,3,4)*(3,1)" [ normal [ 2; 3; 4 ]; normal [ 3; 1 ] ] (fun t -> F.Mul(t.[0], t.[1]))
      case "mul broadcast (2,1,4)*(3,1)" [ normal [ 2; 1; 4 ]; normal [ 3; 1 ] ] (fun t -> t.[0] * t.[1])
      case "div broadcast (2,3,4)/(3,1)" [ normal [ 2; 3; 4 ]; positive [ 3; 1 ] ] (fun t -> F.Div(t.[0], t.[1]))
      case "div broadcast (1,)/(2,3)" [ normal [ 1 ]; positive [ 2; 3 ] ] (fun t -> t.[0] / t.[1])
      case "affine" [ normal [ 2; 3 ] ] (fun t -> F.Affine(t.[0], -1.5, 0.25))
      case "scalar operators" [ normal [ 2; 3 ] ] (fun t -> 1.0 - (2.0 * t.[0] + 0.5) / 4.0)
      case "a tensor used twice" [ normal [ 2; 3 ] ] (fun t -> t.[0] * t.[0] + t.[0])
      case "sum all" [ normal [ 2; 3; 4 ] ] (fun t -> F.Sum t.[0])
      case "sum dims 0,2" [ normal [ 2; 3; 4 ] ] (fun t -> F.Sum(t.[0], [| 0; 2 |]))
      case "sum dim -1 keepdim" [ normal [ 2; 3; 4 ] ] (fun t -> F.Sum(t.[0], [| -1 |], true))
      case "mean all" [ normal [ 2; 3; 4 ] ] (fun t -> F.Mean t.[0])
      case "mean dim 1 keepdim" [ normal [ 2; 3; 4 ] ] (fun t -> F.Mean(t.[0], [| 1 |], true))
      act "relu" [ 3; 5 ] (fun t -> F.Relu t.[0])
      act "relu6" [ 3; 5 ] (fun t -> F.Relu6(F.Affine(t.[0], 1.0, 2.0)))
      act "gelu exact" [ 3; 5 ] (fun t -> F.Gelu t.[0])
      act "gelu tanh" [ 3; 5 ] (fun t -> F.Gelu(t.[0], true))
      act "silu" [ 3; 5 ] (fun t -> F.Silu t.[0])
      act "sigmoid" [ 3; 5 ] (fun t -> F.Sigmoid t.[0])
      act "tanh" [ 3; 5 ] (fun t -> F.Tanh t.[0])
      act "hardswish" [ 3; 5 ] (fun t -> F.Hardswish t.[0])
      act "hardsigmoid" [ 3; 5 ] (fun t -> F.Hardsigmoid t.[0])
      batchNorm "batch norm training rank 2" [ 6; 3 ] true
      batchNorm "batch norm training rank 4" [ 3; 2; 3; 2 ] true
      case "batch norm training rank 3 no affine no stats" [ normal [ 2; 3; 4 ] ] (fun t ->
          F.BatchNorm(t.[0], null, null, null, null, true))
      case "batch norm training rank 5 weight only" [ normal [ 2; 2; 2; 2; 3 ]; normal [ 2 ] ] (fun t ->
          F.BatchNorm(t.[0], null, null, t.[1], null, true, 0.1, 1e-3))
      batchNorm "batch norm eval rank 4" [ 2; 3; 2; 2 ] false
      case "layer norm last dim affine" [ normal [ 3; 5 ]; normal [ 5 ]; normal [ 5 ] ] (fun t ->
          F.LayerNorm(t.[0], [| 5 |], t.[1], t.[2]))
      case "layer norm last dim plain" [ normal [ 2; 3; 4 ] ] (fun t -> F.LayerNorm(t.[0], [| 4 |]))
      case "layer norm two dims affine" [ normal [ 2; 3; 4 ]; normal [ 3; 4 ]; normal [ 3; 4 ] ] (fun t ->
          F.LayerNorm(t.[0], [| 3; 4 |], t.[1], t.[2], 1e-3))
      case "layer norm two dims plain" [ normal [ 2; 3; 4 ] ] (fun t -> F.LayerNorm(t.[0], [| 3; 4 |]))
      case "softmax dim 0" [ normal [ 3; 4; 2 ] ] (fun t -> F.Softmax(t.[0], 0))
      case "softmax dim -1" [ normal [ 3; 4 ] ] (fun t -> F.Softmax(t.[0], -1))
      case "log-softmax dim 0" [ normal [ 3; 4; 2 ] ] (fun t -> F.LogSoftmax(t.[0], 0))
      case "log-softmax dim -1" [ normal [ 3; 4 ] ] (fun t -> F.LogSoftmax(t.[0], -1))
      for reduction in [ Reduction.Mean; Reduction.Sum; Reduction.None ] do
          for smoothing in [ 0.0; 0.1 ] do
              case
                  (sprintf "cross-entropy %A smoothing %g" reduction smoothing)
                  [ normal [ 4; 5 ]; labels 5 [ 4 ] ]
                  (ce reduction smoothing)
      case "dropout training, reseeded generator" [ normal [ 4; 5 ] ] (fun t ->
          F.Dropout(t.[0], 0.3, true, Generator(11L)))
      case "dropout evaluation" [ normal [ 4; 5 ] ] (fun t -> F.Dropout(t.[0], 0.3, false, Generator(11L))) ]

/// Shapes above the 32K-element threshold, so the float32 comparison also runs the parallel paths.
let private largeCases =
    [ case "large add same shape" [ normal [ 16; 16; 16; 16 ]; normal [ 16; 16; 16; 16 ] ] (fun t -> t.[0] + t.[1])
      case "large mul channel broadcast" [ normal [ 16; 16; 16; 16 ]; normal [ 16; 1; 1 ] ] (fun t -> t.[0] * t.[1])
      case "large sub row broadcast" [ normal [ 256; 300 ]; normal [ 300 ] ] (fun t -> t.[0] - t.[1])
      case "large div column broadcast" [ normal [ 256; 300 ]; positive [ 256; 1 ] ] (fun t -> t.[0] / t.[1])
      case "large sum dims 0,2,3" [ normal [ 16; 16; 16; 16 ] ] (fun t -> F.Sum(t.[0], [| 0; 2; 3 |]))
      case "large mean all" [ normal [ 16; 16; 16; 16 ] ] (fun t -> F.Mean t.[0])
      for name, op in
          [ "relu", F.Relu
            "gelu", (fun x -> F.Gelu x)
            "silu", F.Silu
            "sigmoid", F.Sigmoid
            "tanh", F.Tanh
            "hardswish", F.Hardswish
            "hardsigmoid", F.Hardsigmoid
            "relu6", F.Relu6 ] do
          act ("large " + name) [ 256; 300 ] (fun t -> op t.[0])
      act "large gelu tanh" [ 256; 300 ] (fun t -> F.Gelu(t.[0], true))
      batchNorm "large batch norm training" [ 16; 16; 16; 16 ] true
      batchNorm "large batch norm eval" [ 16; 16; 16; 16 ] false
      case "large layer norm" [ normal [ 256; 300 ]; normal [ 300 ]; normal [ 300 ] ] (fun t ->
          F.LayerNorm(t.[0], [| 300 |], t.[1], t.[2]))
      case "large softmax dim -1" [ normal [ 256; 300 ] ] (fun t -> F.Softmax(t.[0], -1))
      case "large softmax dim 0" [ normal [ 300; 256 ] ] (fun t -> F.Softmax(t.[0], 0))
      case "large log-softmax dim 1" [ normal [ 16; 300; 16 ] ] (fun t -> F.LogSoftmax(t.[0], 1))
      case "large cross-entropy" [ normal [ 512; 100 ]; labels 100 [ 512 ] ] (ce Reduction.Mean 0.1)
      case "large dropout" [ normal [ 256; 300 ] ] (fun t -> F.Dropout(t.[0], 0.5, true, Generator(3L))) ]

/// The output and the gradients of sum(v * output) for a fixed standard-normal projection v.
let private runCase (dtype: ScalarType) (device: Device) (c: Case) =
    let inputs = prepare dtype device c
    let y = c.Op inputs
    let v = Generator(5L).Normal(0.0, 1.0, ScalarType.Float64, y.Shape)
    y.Backward(v.To(ScalarType.Float32).To(dtype).To(y.Device))
    y.ToDoubleArray(),
    [ for t in inputs do
          if t.RequiresGrad then
              t.Grad.ToDoubleArray() ]

[<Tests>]
let gradChecks =
    // Central differences in float64 with eps 1e-6 are accurate to about 1e-9 here; GradCheck's defaults (1e-6 abs +
    // 1e-4 rel per element) leave that margin while catching any wrong term of a derivative.
    testList
        "nn pointwise ops: gradient checks (float64, reference device)"
        [ for c in cases ->
              testCase c.Name (fun () ->
                  let inputs = prepare ScalarType.Float64 Device.Reference c
                  let result = GradCheck.Run((fun xs -> c.Op xs), inputs)
                  Expect.isTrue result.Passed (sprintf "max error %g; %s" result.MaxAbsError result.Worst)) ]

[<Tests>]
let float32MatchesFloat64 =
    // Both runs start from the same float32-representable inputs; float32 arithmetic (about 6e-8 relative per step)
    // with sums accumulated in double stays within 2e-5 abs + 1e-4 rel of the float64 results, including batch-norm
    // gradients over 4,096 values per channel and cross-entropy over 512 rows.
    testList
        "nn pointwise ops: float32 cpu path equals float64 reference path"
        [ for c in cases @ largeCases ->
              testCase c.Name (fun () ->
                  let y64, grads64 = runCase ScalarType.Float64 Device.Reference c
                  let y32, grads32 = runCase ScalarType.Float32 Device.Cpu c
                  closeTo64 2e-5 1e-4 "output" y64 y32
                  Expect.equal grads32.Length grads64.Length "same inputs require grad"
                  List.iteri2
                      (fun i g64 g32 -> closeTo64 2e-5 1e-4 (sprintf "gradient of input %d" i) g64 g32)
                      grads64
                      grads32) ]

/// tests/golden/pointwise_ops.safetensors, written by tests/golden/make_pointwise_ops.py with PyTorch 1.13 in float64.
let private goldenPath () = Path.Combine(repoRoot, "tests", "golden", "pointwise_ops.safetensors")

/// A golden case: the stored inputs it reads, in argument order, the op, and the relative tolerance of the float64 run.
type private Golden = { Case: string; Names: string list; Run: Tensor[] -> Tensor; RelTol64: float }

let private golden name names run = { Case = name; Names = names; Run = run; RelTol64 = 1e-9 }
let private bn training momentum eps (t: Tensor[]) =
    let opt i = if i < t.Length then t.[i] else null
    F.BatchNorm(t.[0], t.[1], t.[2], opt 3, opt 4, training, momentum, eps)

let private goldens =
    [ golden "add" [ "a"; "b" ] (fun t -> F.Add(t.[0], t.[1]))
      golden "sub" [ "a"; "b" ] (fun t -> F.Sub(t.[0], t.[1]))
      golden "mul" [ "a"; "b" ] (fun t -> F.Mul(t.[0], t.[1]))
      golden "div" [ "a"; "b" ] (fun t -> F.Div(t.[0], t.[1]))
      golden "sum" [ "x" ] (fun t -> F.Sum(t.[0], [| 0; 2 |]))
      golden "mean" [ "x" ] (fun t -> F.Mean(t.[0], [| 1 |], true))
      golden "relu" [ "x" ] (fun t -> F.Relu t.[0])
      golden "relu6" [ "x" ] (fun t -> F.Relu6 t.[0])
      golden "gelu" [ "x" ] (fun t -> F.Gelu t.[0])
      golden "gelu_tanh" [ "x" ] (fun t -> F.Gelu(t.[0], true))
      golden "silu" [ "x" ] (fun t -> F.Silu t.[0])
      golden "sigmoid" [ "x" ] (fun t -> F.Sigmoid t.[0])
      golden "tanh" [ "x" ] (fun t -> F.Tanh t.[0])
      golden "hardswish" [ "x" ] (fun t -> F.Hardswish t.[0])
      // PyTorch 1.13's hardsigmoid_backward multiplies by the float constant 1.0f / 6.0f even in double, 3e-8 relative
      // away from the exact 1/6 used here.
      { golden "hardsigmoid" [ "x" ] (fun t -> F.Hardsigmoid t.[0]) with RelTol64 = 1e-7 }
      golden "bn_train4" [ "x"; "running_mean"; "running_var"; "weight"; "bias" ] (bn true 0.1 1e-5)
      golden "bn_train2" [ "x"; "running_mean"; "running_var"; "weight"; "bias" ] (bn true 0.3 1e-3)
      golden "bn_train3_plain" [ "x"; "running_mean"; "running_var" ] (bn true 0.1 1e-5)
      golden "bn_eval4" [ "x"; "running_mean"; "running_var"; "weight"; "bias" ] (bn false 0.1 1e-5)
      golden "ln_last" [ "x"; "weight"; "bias" ] (fun t -> F.LayerNorm(t.[0], [| 5 |], t.[1], t.[2], 1e-5))
      golden "ln_two" [ "x" ] (fun t -> F.LayerNorm(t.[0], [| 4; 5 |]))
      golden "softmax_d1" [ "x" ] (fun t -> F.Softmax(t.[0], 1))
      golden "softmax_d0" [ "x" ] (fun t -> F.Softmax(t.[0], 0))
      golden "log_softmax_dlast" [ "x" ] (fun t -> F.LogSoftmax(t.[0], -1))
      golden "log_softmax_d0" [ "x" ] (fun t -> F.LogSoftmax(t.[0], 0))
      for name, reduction in [ "mean", Reduction.Mean; "sum", Reduction.Sum; "none", Reduction.None ] do
          golden ("ce_" + name) [ "logits"; "target" ] (ce reduction 0.0)
          golden ("ce_smooth_" + name) [ "logits"; "target" ] (ce reduction 0.2) ]

/// Runs a golden case in one precision and compares output, gradients and updated running statistics with PyTorch's.
let private checkGolden (file: SafetensorsFile) (dtype: ScalarType) (device: Device) absTol relTol (g: Golden) =
    let relTol = if dtype = ScalarType.Float64 then g.RelTol64 else relTol
    let read (name: string) =
        let key = g.Case + "." + name
        let shape = file.Entry(key).Shape |> Array.map int
        if file.Entry(key).DType = DType.I64 then
            Tensor.From(file.ReadInt64 key, shape, device)
        else
            Tensor.From(file.ReadFloat64 key, shape).To(dtype).To(device)
    let inputs =
        [| for name in g.Names ->
               let t = read name
               t.RequiresGrad <- file.Contains(g.Case + ".g." + name)
               t |]
    let y = g.Run inputs
    y.Backward((read "v").To(y.Device))
    let expected (name: string) = file.ReadFloat64(g.Case + "." + name)
    closeTo64 absTol relTol "output" (expected "y") (y.ToDoubleArray())
    g.Names
    |> List.iteri (fun i name ->
        if inputs.[i].RequiresGrad then
            closeTo64 absTol relTol ("gradient of " + name) (expected ("g." + name)) (inputs.[i].Grad.ToDoubleArray()))
    for stat, i in [ "running_mean", 1; "running_var", 2 ] do
        if file.Contains(g.Case + "." + stat + "_out") then
            closeTo64 absTol relTol (stat + " after the update") (expected (stat + "_out")) (inputs.[i].ToDoubleArray())

[<Tests>]
let pytorchGolden =
    // float64: our sums run in another order than PyTorch's, which moves results by a few ulps; 1e-10 abs + 1e-9 rel
    // (the case's RelTol64) allows that and nothing else. float32: the inputs are rounded to float32 first (6e-8 relative), then float32
    // arithmetic; 1e-5 abs + 1e-4 rel.
    testList
        "nn pointwise ops: PyTorch golden values"
        [ for dtype, device, absTol, relTol in
              [ ScalarType.Float64, Device.Reference, 1e-10, nan; ScalarType.Float32, Device.Cpu, 1e-5, 1e-4 ] ->
              testList
                  (string dtype)
                  [ for g in goldens ->
                        testCase g.Case (fun () ->
                            use file = SafetensorsFile.Open(goldenPath ())
                            checkGolden file dtype device absTol relTol g) ] ]

let private leaf (values: float list) =
    let t = Tensor.From(Array.ofList values, [| values.Length |])
    t.RequiresGrad <- true
    t

[<Tests>]
let autogradEngine =
    testList
        "nn autograd engine"
        [ testCase "a tensor used twice accumulates both gradients" (fun () ->
              let x = leaf [ 1.0; -2.0; 3.0 ]
              F.Sum(F.Add(F.Mul(x, x), x)).Backward()
              Expect.equal (x.Grad.ToArray<float>()) [| 3.0; -3.0; 7.0 |] "d/dx (x^2 + x) = 2x + 1"
              let y = leaf [ 0.5; 2.0 ]
              F.Sum(y + y).Backward()
              Expect.equal (y.Grad.ToArray<float>()) [| 2.0; 2.0 |] "both operands of y + y are y")
          testCase "NoGrad records nothing and restores recording" (fun () ->
              let x = leaf [ 1.0; -1.0 ]
              using (Autograd.NoGrad()) (fun _ ->
                  let y = F.Relu(x * 2.0)
                  Expect.isFalse y.RequiresGrad "no graph under NoGrad"
                  Expect.isNull y.GradFnName "no grad_fn under NoGrad")
              Expect.equal (F.Relu x).GradFnName "Relu" "recording is back after the scope")
          testCase "Backward on a non-scalar without a gradient throws" (fun () ->
              let y = F.Sigmoid(leaf [ 1.0; 2.0; 3.0 ])
              let e = throwsOf<InvalidOperationException>(fun () -> y.Backward())
              Expect.stringContains e.Message "[3]" "the message names the shape")
          testCase "a leaf's Grad accumulates across two Backward calls" (fun () ->
              let x = leaf [ 1.0; 2.0 ]
              F.Sum(x * 2.0).Backward()
              F.Sum(x * 3.0).Backward()
              Expect.equal (x.Grad.ToArray<float>()) [| 5.0; 5.0 |] "2 + 3"
              x.Grad <- null
              F.Sum(x * 3.0).Backward()
              Expect.equal (x.Grad.ToArray<float>()) [| 3.0; 3.0 |] "zeroed by setting Grad to null")
          testCase "grad_fn names are the op method names" (fun () ->
              let x = Tensor.From([| 0.5; -1.0; 2.0; 1.5; -0.5; 0.25 |], [| 2; 3 |])
              x.RequiresGrad <- true
              let expect (name: string) (t: Tensor) = Expect.equal t.GradFnName name name
              expect "Add" (x + x)
              expect "Sub" (x - x)
              expect "Mul" (x * x)
              expect "Div" (x / (x * x + 1.0))
              expect "Affine" (x * 2.0)
              expect "Sum" (F.Sum x)
              expect "Mean" (F.Mean(x, [| 0 |]))
              expect "Gelu" (F.Gelu x)
              expect "Silu" (F.Silu x)
              expect "Tanh" (F.Tanh x)
              expect "Hardswish" (F.Hardswish x)
              expect "Hardsigmoid" (F.Hardsigmoid x)
              expect "Relu6" (F.Relu6 x)
              expect "BatchNorm" (F.BatchNorm(x, null, null, null, null, true))
              expect "LayerNorm" (F.LayerNorm(x, [| 3 |]))
              expect "Softmax" (F.Softmax(x, 1))
              expect "LogSoftmax" (F.LogSoftmax(x, 1))
              expect "CrossEntropy" (F.CrossEntropy(x, Tensor.From([| 0L; 2L |], [| 2 |])))
              expect "Dropout" (F.Dropout(x, 0.5, true, Generator(1L))))
          testCase "recycled float32 gradient storage leaves every gradient intact" (fun () ->
              // Large enough for StoragePool; the graph passes gradients through (Add, Reshape), uses tensors twice and
              // sums them, so a spent gradient handed back too early would be overwritten by a later op of the pass.
              let shape = [| 4; 8; 32; 32 |]
              let run (x: Tensor) (gy: Tensor) =
                  let a = F.Relu(x * 2.0)
                  let b = a + x
                  let c = F.Reshape(F.Sigmoid(b * a), 4, 8, 1024)
                  let y = F.Reshape(c, shape) + b
                  y.Backward gy
                  y.Backward gy
                  x.Grad
              let x64 = Generator(5L).Normal(0.0, 1.0, ScalarType.Float64, shape)
              let gy64 = Generator(6L).Normal(0.0, 1.0, ScalarType.Float64, shape)
              let x32, gy32 = x64.To ScalarType.Float32, gy64.To ScalarType.Float32
              let given = gy32.ToArray<float32>()
              x32.RequiresGrad <- true
              x64.RequiresGrad <- true
              let g32 = run x32 gy32
              Expect.equal (gy32.ToArray<float32>()) given "the caller's gradient is never reused"
              // float32 against float64 of the same graph: rounding of a few ops, far below any overwritten value.
              closeTo64
                  1e-5
                  1e-5
                  "input gradient"
                  ((run x64 gy64).ToArray<float>())
                  (g32.ToArray<float32>() |> Array.map float)) ]

/// The one op a trace saw while running f.
let private traced (f: unit -> Tensor) =
    use trace = Trace.Start()
    let output = f ()
    Expect.equal trace.Ops.Count 1 "one op traced"
    let op = trace.Ops.[0]
    Expect.isTrue (obj.ReferenceEquals(op.Output, output)) "the traced output is the returned tensor"
    op

let private attr (op: TracedOp) (name: string) = op.Attributes.[name]

[<Tests>]
let traces =
    let x = Tensor.From([| 0.5f; -1.0f; 2.0f; 1.5f; -0.5f; 0.25f; 1.0f; 3.0f |], [| 2; 2; 2 |])
    let c = Tensor.From([| 1.0f; 2.0f |], [| 2 |])
    testList
        "nn pointwise ops: traces carry what an ONNX exporter needs"
        [ testCase "BatchNorm: data, running_mean, running_var, weight, bias; eps, momentum, training" (fun () ->
              let rm, rv, w, b = c.Clone(), c.Clone(), c.Clone(), c.Clone()
              let op = traced (fun () -> F.BatchNorm(x, rm, rv, w, b, true, 0.2, 1e-3))
              Expect.equal op.Op "BatchNorm" "name"
              Expect.isTrue
                  (Seq.forall2 (fun (a: Tensor) b -> obj.ReferenceEquals(a, b)) op.Inputs [ x; rm; rv; w; b ])
                  "input order"
              Expect.equal (attr op "eps") (box 1e-3) "eps"
              Expect.equal (attr op "momentum") (box 0.2) "momentum"
              Expect.equal (attr op "training") (box true) "training"
              let plain = traced (fun () -> F.BatchNorm(x, rm, rv, null, b, false))
              Expect.isTrue
                  (Seq.forall2 (fun (a: Tensor) b -> obj.ReferenceEquals(a, b)) plain.Inputs [ x; rm; rv; b ])
                  "absent weight left out"
              Expect.equal (attr plain "training") (box false) "evaluation")
          testCase "LayerNorm: normalized_shape, eps" (fun () ->
              let op = traced (fun () -> F.LayerNorm(x, [| 2; 2 |], eps = 1e-6))
              Expect.equal (attr op "normalized_shape") (box [| 2; 2 |]) "normalized_shape"
              Expect.equal (attr op "eps") (box 1e-6) "eps")
          testCase "Softmax and LogSoftmax: dim" (fun () ->
              Expect.equal (attr (traced (fun () -> F.Softmax(x, -1))) "dim") (box 2) "dim -1 of rank 3"
              Expect.equal (traced (fun () -> F.LogSoftmax(x, 0))).Op "LogSoftmax" "name")
          testCase "Gelu: approximate" (fun () ->
              Expect.equal (attr (traced (fun () -> F.Gelu x)) "approximate") (box "none") "exact"
              Expect.equal (attr (traced (fun () -> F.Gelu(x, true))) "approximate") (box "tanh") "tanh")
          testCase "Affine: scale, shift" (fun () ->
              let op = traced (fun () -> F.Affine(x, 3.0, -1.0))
              Expect.equal (attr op "scale") (box 3.0) "scale"
              Expect.equal (attr op "shift") (box -1.0) "shift")
          testCase "CrossEntropy: reduction, label_smoothing; Dropout: p, training" (fun () ->
              let target = Tensor.From([| 1L; 0L |], [| 2 |])
              let op =
                  traced (fun () ->
                      F.CrossEntropy(
                          Tensor.From([| 0.1f; 0.2f; 0.3f; 0.4f |], [| 2; 2 |]),
                          target,
                          Reduction.Sum,
                          0.1
                      ))
              Expect.equal (attr op "reduction") (box "sum") "reduction"
              Expect.equal (attr op "label_smoothing") (box 0.1) "label_smoothing"
              let drop = traced (fun () -> F.Dropout(x, 0.25, false, Generator(1L)))
              Expect.equal (attr drop "p") (box 0.25) "p"
              Expect.equal (attr drop "training") (box false) "training") ]

[<Tests>]
let semantics =
    testList
        "nn pointwise ops: semantics"
        [ testCase "dropout zeroes about p of the elements and scales the rest by 1/(1-p)" (fun () ->
              let x = Tensor.Ones(ScalarType.Float32, null, 100_000)
              let y = F.Dropout(x, 0.3, true, Generator(9L)).ToArray<float32>()
              let dropped = y |> Array.filter (fun v -> v = 0.0f) |> Array.length
              // 100,000 Bernoulli(0.3) draws: the standard deviation of the fraction is 0.0014; 0.01 is seven of them.
              Expect.isLessThan (abs (float dropped / 1e5 - 0.3)) 0.01 "fraction dropped"
              Expect.isTrue (y |> Array.forall (fun v -> v = 0.0f || v = float32 (1.0 / 0.7))) "kept values scaled"
              let again = F.Dropout(x, 0.3, true, Generator(9L)).ToArray<float32>()
              Expect.equal again y "the same seed gives the same mask"
              Expect.isTrue
                  (F.Dropout(x, 1.0, true, Generator(9L)).ToArray<float32>() |> Array.forall ((=) 0.0f))
                  "p = 1 drops all"
              let eval = F.Dropout(x, 0.3, false, Generator(9L))
              Expect.isFalse (obj.ReferenceEquals(eval, x)) "a new tensor"
              Expect.equal (eval.ToArray<float32>()) (x.ToArray<float32>()) "identity in evaluation")
          testCase
              "dropout's masks: the draws and outcomes of a loop of NextDouble, bit for bit, and the stream after"
              (fun () ->
                  for p in [ 0.0; 0.3; 0.5; 1.0 ] do
                      for length in [ 0; 7; 8; 13; 1000 ] do
                          let g, g' = Generator(21L), Generator(21L)
                          let keep = float32 (1.0 / (1.0 - p))
                          let mask = Array.create length 9.0f
                          g.FillKept(System.Span mask, p, keep)
                          let loop = Array.init length (fun _ -> if g'.NextDouble() >= p then keep else 0.0f)
                          Expect.equal mask loop $"p {p}, {length} elements"
                          Expect.equal (g.NextBits()) (g'.NextBits()) $"p {p}, {length} elements: the next draw"
                  // A threshold that one draw meets exactly: p is that draw, which NextDouble >= p keeps.
                  let first = Generator(5L).NextDouble()
                  let mask = Array.zeroCreate<float32> 8
                  Generator(5L).FillKept(System.Span mask, first, 1.0f)
                  Expect.equal mask[0] 1.0f "a draw equal to p is kept")
          testCase "sum and mean with an empty dimension list reduce every dimension, as PyTorch" (fun () ->
              let x = Tensor.From([| 1.0; 2.0; 3.0; 4.0; 5.0; 6.0 |], [| 2; 3 |])
              Expect.equal (F.Sum(x, [||]).Item()) 21.0 "sum"
              Expect.equal (F.Mean(x, [||]).Item()) 3.5 "mean"
              Expect.equal (F.Sum(x, [| 1 |]).Shape) [| 2 |] "dims dropped"
              Expect.equal (F.Mean(x, [| 0 |], true).Shape) [| 1; 3 |] "keepdim")
          testCase "batch norm in evaluation leaves the running statistics alone" (fun () ->
              let x = Tensor.From([| 1.0f; 2.0f; 3.0f; 4.0f |], [| 2; 2 |])
              let rm, rv = Tensor.From([| 0.5f; -0.5f |], [| 2 |]), Tensor.From([| 2.0f; 3.0f |], [| 2 |])
              F.BatchNorm(x, rm, rv, null, null, false) |> ignore
              Expect.equal (rm.ToArray<float32>()) [| 0.5f; -0.5f |] "running_mean"
              Expect.equal (rv.ToArray<float32>()) [| 2.0f; 3.0f |] "running_var")
          testCase "softmax of large logits does not overflow" (fun () ->
              let y = F.Softmax(Tensor.From([| 1000.0f; 1000.0f; -1000.0f |], [| 3 |]), 0).ToArray<float32>()
              Expect.equal y [| 0.5f; 0.5f; 0.0f |] "max subtracted first") ]

[<Tests>]
let badInput =
    let f32 (shape: int[]) = Tensor.Zeros(ScalarType.Float32, null, shape)
    let f64 (shape: int[]) = Tensor.Zeros(ScalarType.Float64, null, shape)
    let i64 (values: int64[]) = Tensor.From(values, [| values.Length |])
    let rejectsAll (fragments: string list) action =
        let e = throwsOf<ArgumentException>(fun () -> action () |> ignore)
        for f in fragments do
            Expect.stringContains e.Message f "the message names the op, the argument and the shapes"
    testList
        "nn pointwise ops: bad input"
        [ testCase "broadcast mismatch" (fun () ->
              rejectsAll [ "Add"; "[2, 3]"; "[4]" ] (fun () -> F.Add(f32 [| 2; 3 |], f32 [| 4 |]))
              rejectsAll [ "Mul"; "[2, 3, 4]"; "[3, 2]" ] (fun () -> f32 [| 2; 3; 4 |] * f32 [| 3; 2 |]))
          testCase "mixed dtypes" (fun () ->
              rejectsAll [ "Sub"; "Float32"; "Float64"; "[2]" ] (fun () -> F.Sub(f32 [| 2 |], f64 [| 2 |]))
              rejectsAll [ "BatchNorm"; "weight"; "Float64" ] (fun () ->
                  F.BatchNorm(f32 [| 2; 2 |], null, null, f64 [| 2 |], null, true)))
          testCase "integer tensors where floating point is needed" (fun () ->
              rejectsAll [ "Relu"; "Int64"; "[2]" ] (fun () -> F.Relu(i64 [| 1L; 2L |]))
              rejectsAll [ "Softmax"; "Int64" ] (fun () -> F.Softmax(i64 [| 1L |], 0))
              rejectsAll [ "CrossEntropy"; "target must be int64"; "Float32" ] (fun () ->
                  F.CrossEntropy(f32 [| 2; 3 |], f32 [| 2 |])))
          testCase "targets out of range" (fun () ->
              rejectsAll [ "CrossEntropy"; "target 3"; "[0, 3)"; "[2, 3]" ] (fun () ->
                  F.CrossEntropy(f32 [| 2; 3 |], i64 [| 0L; 3L |]))
              rejectsAll [ "CrossEntropy"; "target -1" ] (fun () -> F.CrossEntropy(f32 [| 2; 3 |], i64 [| -1L; 0L |]))
              rejectsAll [ "CrossEntropy"; "shape [2]" ] (fun () -> F.CrossEntropy(f32 [| 2; 3 |], i64 [| 0L |])))
          testCase "shapes of normalisation parameters" (fun () ->
              rejectsAll [ "BatchNorm"; "running_mean"; "[3]"; "[2]" ] (fun () ->
                  F.BatchNorm(f32 [| 4; 2 |], f32 [| 3 |], f32 [| 2 |], null, null, true))
              rejectsAll [ "BatchNorm"; "rank 2 to 5"; "[4]" ] (fun () ->
                  F.BatchNorm(f32 [| 4 |], null, null, null, null, true))
              rejectsAll [ "BatchNorm"; "more than 1 value per channel" ] (fun () ->
                  F.BatchNorm(f32 [| 1; 3 |], null, null, null, null, true))
              rejectsAll [ "BatchNorm"; "running_mean and running_var" ] (fun () ->
                  F.BatchNorm(f32 [| 4; 2 |], null, null, null, null, false))
              rejectsAll [ "LayerNorm"; "normalized_shape [3]"; "[2, 4]" ] (fun () ->
                  F.LayerNorm(f32 [| 2; 4 |], [| 3 |]))
              rejectsAll [ "LayerNorm"; "bias"; "[5]"; "[4]" ] (fun () ->
                  F.LayerNorm(f32 [| 2; 4 |], [| 4 |], null, f32 [| 5 |])))
          testCase "dimensions and probabilities out of range" (fun () ->
              rejectsAll [ "Softmax"; "dim 2"; "[2, 3]" ] (fun () -> F.Softmax(f32 [| 2; 3 |], 2))
              rejectsAll [ "Sum"; "dimension -3"; "[2, 3]" ] (fun () -> F.Sum(f32 [| 2; 3 |], [| -3 |]))
              rejectsAll [ "Dropout"; "p"; "1.5" ] (fun () -> F.Dropout(f32 [| 2 |], 1.5, true, Generator(1L)))
              rejectsAll [ "CrossEntropy"; "label_smoothing" ] (fun () ->
                  F.CrossEntropy(f32 [| 2; 3 |], i64 [| 0L; 1L |], labelSmoothing = -0.1))) ]
