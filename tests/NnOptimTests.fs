/// Optimisers, LR schedules and gradient clipping against PyTorch 1.13 trajectories (tests/golden/optim.safetensors,
/// written by tests/golden/make_optim.py), plus resume from a saved state dict and parameter groups.
module Hybrid.Tests.NnOptimTests

open System
open System.IO
open Expecto
open Hybrid.Core.Nn.Formats
open Hybrid.Core.Nn.Optim

let private golden = Path.Combine(repoRoot, "tests", "golden", "optim.safetensors")

let private options (pairs: (string * float) list) : Collections.Generic.IReadOnlyDictionary<string, float> =
    Map.ofList pairs :> _

/// Element-wise |actual - expected| <= absTol + relTol * |expected| on float64 values; the message names the worst element.
let private closeTo64 (absTol: float) (relTol: float) (what: string) (expected: float[]) (actual: float[]) =
    Expect.equal actual.Length expected.Length (sprintf "%s: length" what)
    for i in 0 .. expected.Length - 1 do
        let e, a = expected.[i], actual.[i]
        if not (abs (a - e) <= absTol + relTol * abs e) then
            failtestf "%s: element %d is %.17g, expected %.17g (tolerance %g abs + %g rel)" what i a e absTol relTol

type private Clip =
    | NoClip
    | Norm of maxNorm: float * normType: float
    | Value of float

/// The configurations of make_optim.py's CONFIGS, built from [w; b].
type private Config = { Make: Tensor list -> Optimizer; Schedule: (Optimizer -> LRScheduler) option; Clip: Clip }

let private plain make = { Make = make; Schedule = None; Clip = NoClip }

let private configs: (string * Config) list =
    [ "sgd", plain (fun ps -> SGD(ps, 0.1))
      "sgd_momentum", plain (fun ps -> SGD(ps, 0.1, momentum = 0.9, dampening = 0.1, weightDecay = 0.01))
      "sgd_nesterov", plain (fun ps -> SGD(ps, 0.05, momentum = 0.9, nesterov = true, weightDecay = 5e-4))
      "adam", plain (fun ps -> Adam(ps, lr = 0.01))
      "adam_l2_amsgrad",
      plain (fun ps -> Adam(ps, lr = 0.02, beta1 = 0.8, beta2 = 0.99, eps = 1e-6, weightDecay = 0.1, amsgrad = true))
      "adamw", plain (fun ps -> AdamW(ps, lr = 0.01, weightDecay = 0.1))
      "adamw_amsgrad", plain (fun ps -> AdamW(ps, lr = 0.01, weightDecay = 0.05, amsgrad = true))
      "groups",
      plain (fun ps ->
          SGD(
              [ ParamGroup([ ps.[0] ], options [ "lr", 0.1; "momentum", 0.9 ]); ParamGroup([ ps.[1] ]) ],
              0.01,
              momentum = 0.5
          ))
      "step_lr",
      { plain (fun ps -> SGD(ps, 0.1, momentum = 0.9)) with Schedule = Some(fun o -> StepLR(o, 2, gamma = 0.5)) }
      "cosine",
      { plain (fun ps -> Adam([ ParamGroup([ ps.[0] ]); ParamGroup([ ps.[1] ], options [ "lr", 0.05 ]) ], lr = 0.01)) with
          Schedule = Some(fun o -> CosineAnnealingLR(o, 4, etaMin = 0.001)) }
      "clip_norm2", { plain (fun ps -> SGD(ps, 0.1)) with Clip = Norm(0.5, 2.0) }
      "clip_norm_inf", { plain (fun ps -> SGD(ps, 0.1)) with Clip = Norm(0.3, Double.PositiveInfinity) }
      "clip_value", { plain (fun ps -> SGD(ps, 0.1)) with Clip = Value 0.05 } ]

let private names = [ "w"; "b" ]

/// Tolerances per dtype. The updates are PyTorch's op for op, in the same precision, so 22 of the 26 trajectories match
/// bit for bit; what differs: the cosine schedule's closed form against PyTorch's recursive step (1 ulp of the lr), the
/// order of a norm's sum, and clip_grad_norm_'s total and coefficient, which we form in double and PyTorch in float32
/// for float32 gradients (1 float32 ulp on the clipped parameters). Allowed: about 4 ulps, float64 1e-14 abs + 1e-13 rel,
/// float32 1e-7 abs + 5e-7 rel, on values of order 0.1 to 10.
let private tolerance dtype = if dtype = "f64" then 1e-14, 1e-13 else 1e-7, 5e-7

let private load (file: SafetensorsFile) (dtype: string) (key: string) =
    let shape = file.Entry(key).Shape |> Array.map int
    if dtype = "f64" then Tensor.From(file.ReadFloat64 key, shape) else Tensor.From(file.ReadFloat32 key, shape)

/// Replays one configuration: the recorded gradients in, the parameters, lrs and norms compared after every step.
let private replay (file: SafetensorsFile) (dtype: string) (name: string) (config: Config) =
    let prefix = $"{dtype}.{name}"
    let absTol, relTol = tolerance dtype
    let ps = [ for k in names -> (load file dtype $"{prefix}.param.0.{k}") ]
    for p in ps do
        p.RequiresGrad <- true
    let optimizer = config.Make ps
    let schedule = config.Schedule |> Option.map (fun make -> make optimizer)
    let checkLr step =
        schedule
        |> Option.iter (fun s ->
            closeTo64
                0.0
                1e-14
                $"{prefix} lr after step {step}"
                (file.ReadFloat64 $"{prefix}.lr.{step}")
                (Array.ofSeq s.LastLr)
            let groupLrs = [| for g in optimizer.ParamGroups -> g.Lr |]
            Expect.equal groupLrs (Array.ofSeq s.LastLr) "the schedule set the groups' lr")
    checkLr 0
    let steps = int file.Metadata.["steps"]
    for step in 1..steps do
        optimizer.ZeroGrad()
        for k, p in List.zip names ps do
            let key = $"{prefix}.grad.{step}.{k}"
            if file.Contains key then
                p.Grad <- load file dtype key
        match config.Clip with
        | Norm(maxNorm, normType) ->
            let total = GradClip.ClipGradNorm(ps, maxNorm, normType)
            closeTo64
                absTol
                relTol
                $"{prefix} total norm at step {step}"
                (file.ReadFloat64 $"{prefix}.norm.{step}")
                [| total |]
        | Value v -> GradClip.ClipGradValue(ps, v)
        | NoClip -> ()
        optimizer.Step()
        schedule |> Option.iter (fun s -> s.Step())
        checkLr step
        for k, p in List.zip names ps do
            closeTo64
                absTol
                relTol
                $"{prefix} {k} after step {step}"
                (file.ReadFloat64 $"{prefix}.param.{step}.{k}")
                (p.ToDoubleArray())

/// Seeded gradients for `steps` steps of a parameter list.
let private gradients (seed: int) (steps: int) (ps: Tensor list) =
    let rng = Random seed
    [ for _ in 1..steps -> [ for p in ps -> Tensor.From(randomNormal rng p.Numel, p.Shape) ] ]

let private freshParams (seed: int) =
    let rng = Random seed
    [ for shape in [ [| 5; 7 |]; [| 7 |]; [| 3 |] ] ->
          let t = Tensor.From(randomNormal rng (Array.fold (*) 1 shape), shape)
          t.RequiresGrad <- true
          t ]

let private trainSteps (optimizer: Optimizer) (schedule: LRScheduler) (ps: Tensor list) (grads: Tensor list list) =
    for stepGrads in grads do
        optimizer.ZeroGrad()
        for p, g in List.zip ps stepGrads do
            p.Grad <- g.Clone()
        optimizer.Step()
        schedule.Step()

/// The optimisers of the resume test, each with a schedule, made over given parameters.
let private resumable: (string * (Tensor list -> Optimizer * LRScheduler)) list =
    let cosine (o: Optimizer) = o, (CosineAnnealingLR(o, 5, etaMin = 0.01) :> LRScheduler)
    [ "SGD Nesterov + cosine", (fun ps -> cosine (SGD(ps, 0.1, momentum = 0.9, nesterov = true, weightDecay = 5e-4)))
      "Adam AMSGrad + cosine", (fun ps -> cosine (Adam(ps, lr = 0.01, weightDecay = 0.01, amsgrad = true)))
      "AdamW, two groups + StepLR",
      (fun ps ->
          let o = AdamW([ ParamGroup(ps.[..1], options [ "lr", 0.02 ]); ParamGroup(ps.[2..]) ], lr = 0.005)
          o, (StepLR(o, 2, gamma = 0.3) :> LRScheduler)) ]

[<Tests>]
let tests =
    testList
        "nn optim"
        [ testList
              "PyTorch trajectories"
              [ for dtype in [ "f64"; "f32" ] do
                    for name, config in configs ->
                        test $"{name} {dtype}" {
                            use file = SafetensorsFile.Open golden
                            replay file dtype name config
                        } ]

          test "resume: state saved after step 3 and loaded into a fresh optimiser continues bit for bit" {
              for name, make in resumable do
                  let grads = gradients 11 7 (freshParams 1)
                  let straight = freshParams 1
                  let o, s = make straight
                  trainSteps o s straight grads

                  let first = freshParams 1
                  let o1, s1 = make first
                  trainSteps o1 s1 first grads.[..2]
                  withTempDir (fun dir ->
                      let at file = Path.Combine(dir, file)
                      StateDicts.SaveSafetensors(at "optim.safetensors", o1.StateDict())
                      StateDicts.SaveSafetensors(at "sched.safetensors", s1.StateDict())
                      StateDicts.SaveSafetensors(
                          at "model.safetensors",
                          [ for i, p in List.indexed first -> Collections.Generic.KeyValuePair(string i, p) ]
                      )
                      let saved = StateDicts.Load(at "model.safetensors")
                      let resumed = freshParams 99
                      for i, p in List.indexed resumed do
                          p.CopyFrom(saved.[string i]) |> ignore
                      // A fresh optimiser and schedule built as at the start, then restored, as a training script does.
                      let o2, s2 = make resumed
                      o2.LoadStateDict(StateDicts.Load(at "optim.safetensors"))
                      s2.LoadStateDict(StateDicts.Load(at "sched.safetensors"))
                      Expect.equal s2.LastEpoch 3 $"{name}: epoch restored"
                      trainSteps o2 s2 resumed grads.[3..]
                      for i, (a, b) in List.indexed (List.zip straight resumed) do
                          Expect.equal
                              (b.ToArray<float32>())
                              (a.ToArray<float32>())
                              $"{name}: parameter {i} equals the uninterrupted run"
                      Expect.equal (Array.ofSeq s2.LastLr) (Array.ofSeq s.LastLr) $"{name}: lrs equal")
          }

          test "state dict keys follow PyTorch's layout" {
              let ps = freshParams 2
              let o = Adam(ps, amsgrad = true)
              for p in ps do
                  p.Grad <- p.Clone().Detach()
              ps.[1].Grad <- null
              o.Step()
              let keys = o.StateDict().Keys |> List.ofSeq
              Expect.containsAll
                  keys
                  [ "state.0.step"; "state.0.exp_avg"; "state.0.exp_avg_sq"; "state.0.max_exp_avg_sq"; "state.2.step" ]
                  "state per parameter index"
              Expect.isFalse
                  (keys |> List.exists (fun k -> k.StartsWith "state.1."))
                  "a parameter without gradient has no state"
              Expect.containsAll
                  keys
                  [ "param_groups.0.lr"; "param_groups.0.beta1"; "param_groups.0.amsgrad"; "param_groups.0.params" ]
                  "group options"
              Expect.equal (o.StateDict().["state.0.step"].Dtype) ScalarType.Int64 "step counts are int64"
              Expect.equal
                  (o.StateDict().["param_groups.0.params"].ToArray<int64>())
                  [| 0L; 1L; 2L |]
                  "parameter indices"
          }

          test "Step skips parameters without a gradient and leaves their state alone" {
              let ps = freshParams 3
              let before = ps.[1].ToArray<float32>()
              let o = SGD(ps, 0.1, momentum = 0.9)
              for p in ps do
                  p.Grad <- Tensor.Ones(ScalarType.Float32, null, p.Shape)
              o.Step()
              let buffer = o.State(ps.[1]).["momentum_buffer"].ToArray<float32>()
              ps.[1].Grad <- null
              o.Step()
              Expect.equal (o.State(ps.[1]).["momentum_buffer"].ToArray<float32>()) buffer "momentum buffer unchanged"
              Expect.equal
                  (ps.[1].ToArray<float32>())
                  (before |> Array.map (fun v -> v - 0.1f))
                  "only the first step moved it"
          }

          test "groups with different learning rates move by their own lr" {
              let ps = freshParams 4
              let before = ps |> List.map (fun p -> p.ToArray<float32>())
              let o = SGD([ ParamGroup(ps.[..0], options [ "lr", 0.5 ]); ParamGroup(ps.[1..]) ], 0.01)
              Expect.equal [ for g in o.ParamGroups -> g.Lr ] [ 0.5; 0.01 ] "the group's lr, else the default"
              for p in ps do
                  p.Grad <- Tensor.Ones(ScalarType.Float32, null, p.Shape)
              o.Step()
              for (p, b), lr in List.zip (List.zip ps before) [ 0.5f; 0.01f; 0.01f ] do
                  Expect.equal (p.ToArray<float32>()) (b |> Array.map (fun v -> v + -lr * 1.0f)) $"moved by lr {lr}"
          }

          test "large parameters update in parallel chunks exactly as small ones do" {
              // 2^19 + 3 elements: above the parallel threshold and not a multiple of the chunk size.
              let n = (1 <<< 19) + 3
              let rng = Random 5
              let values, grads =
                  Array.init n (fun _ -> rng.NextDouble() - 0.5), Array.init n (fun _ -> rng.NextDouble() - 0.5)
              let whole = Tensor.From(values, [| n |])
              let pieces =
                  [ for start in 0..4096 .. n - 1 ->
                        Tensor.From(values.[start .. min (n - 1) (start + 4095)], [| min 4096 (n - start) |]) ]
              for t in whole :: pieces do
                  t.RequiresGrad <- true
              let o1, o2 = AdamW([ whole ], lr = 0.01, amsgrad = true), AdamW(pieces, lr = 0.01, amsgrad = true)
              for _ in 1..3 do
                  whole.Grad <- Tensor.From(grads, [| n |])
                  for i, p in List.indexed pieces do
                      p.Grad <- Tensor.From(grads.[i * 4096 .. i * 4096 + p.Numel - 1], [| p.Numel |])
                  o1.Step()
                  o2.Step()
              Expect.equal
                  (whole.ToArray<float>())
                  (pieces |> Array.ofList |> Array.collect (fun p -> p.ToArray<float>()))
                  "same bits"
          }

          test "clipping without gradients returns 0; infinite norms spread like PyTorch's" {
              let ps = freshParams 6
              Expect.equal (GradClip.ClipGradNorm(ps, 1.0)) 0.0 "no gradients"
              ps.[0].Grad <- Tensor.Full(Double.PositiveInfinity, ScalarType.Float32, null, ps.[0].Shape)
              Expect.isTrue (Double.IsPositiveInfinity(GradClip.ClipGradNorm(ps, 1.0))) "infinite total"
              Expect.isTrue
                  (ps.[0].Grad.ToArray<float32>() |> Array.forall Single.IsNaN)
                  "inf * 0 is NaN, as in PyTorch"
              ps.[0].Grad <- Tensor.Full(Double.PositiveInfinity, ScalarType.Float32, null, ps.[0].Shape)
              Expect.throws
                  (fun () -> GradClip.ClipGradNorm(ps, 1.0, errorIfNonfinite = true) |> ignore)
                  "errorIfNonfinite"
          }

          test "invalid arguments are refused, naming the problem" {
              let ps = freshParams 7
              rejects "empty parameter list" (fun () -> SGD(List.empty<Tensor>, 0.1))
              rejects "more than once" (fun () -> SGD(ps @ [ ps.[0] ], 0.1))
              rejects "more than once" (fun () -> SGD([ ParamGroup(ps); ParamGroup(ps.[..0]) ], 0.1))
              rejects "unknown option 'betas'" (fun () -> SGD([ ParamGroup(ps, options [ "betas", 0.9 ]) ], 0.1))
              rejects "Nesterov" (fun () -> SGD(ps, 0.1, nesterov = true))
              rejects "lr must be >= 0" (fun () -> SGD(ps, -0.1))
              rejects "beta2 must be in [0, 1)" (fun () -> Adam(ps, beta2 = 1.0))
              rejects "floating-point leaf" (fun () -> SGD([ Tensor.Zeros(ScalarType.Int64, null, 3) ], 0.1))
              rejects "tMax must be > 0" (fun () -> CosineAnnealingLR(SGD(ps, 0.1), 0))
              let o = SGD(ps, 0.1, momentum = 0.9)
              let other = SGD(ps.[..1], 0.1, momentum = 0.9)
              rejects "saved with 2 parameters" (fun () -> o.LoadStateDict(other.StateDict()))
              rejects "neither" (fun () -> o.LoadStateDict(Map.ofList [ "bogus", Tensor.Scalar 1.0 ]))
          } ]
