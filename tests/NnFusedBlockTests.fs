/// The CIFAR ResNet's fused paths (BatchNorm+ReLU and Add+ReLU in one pass, intermediates recycled under NoGrad and after
/// the backward that last reads them) against the separate ops, which the same model runs while a trace is open (an exporter must see every op).
module Hybrid.Tests.NnFusedBlockTests

open Expecto
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Zoo

let private model () =
    let m = CifarResNet(8, generator = Generator(11L))
    m.To Device.Cpu |> ignore
    m

let private input (seed: int64) batch =
    Generator(seed).Normal(0.0, 1.0, ScalarType.Float32, batch, 3, 32, 32).To Device.Cpu

/// Logits and every parameter gradient of one training forward and backward, unfused when traced is true.
let private trainStep (m: CifarResNet) (x: Tensor) traced =
    m.ZeroGrad()
    use _ = m.Train()
    let trace = if traced then Trace.Start m else null
    let logits = m.Call x
    if not (isNull trace) then
        trace.Dispose()
    (Functional.Sum logits).Backward()
    logits.ToArray<float32>(), [ for p in m.Parameters() -> p.Grad.ToArray<float32>() ]

let private close what (expected: float32[]) (actual: float32[]) =
    Expect.equal actual.Length expected.Length $"{what}: length"
    for i in 0 .. expected.Length - 1 do
        let e, a = float expected[i], float actual[i]
        if abs (a - e) > 1e-5 + 1e-5 * abs e then
            failtestf "%s[%d]: fused %g, separate ops %g" what i a e

[<Tests>]
let tests =
    testList
        "nn fused blocks"
        [ test "a training step through fused blocks gives the separate ops' logits and gradients" {
              let m, x = model (), input 3L 8
              let separate, separateGrads = trainStep m x true
              let fused, fusedGrads = trainStep m x false
              // Forward arithmetic is the same op for op, so the logits agree exactly; convolution weight gradients sum their
              // per-core partials in whichever order the cores finish, hence 1e-5 absolute and relative for gradients.
              Expect.sequenceEqual fused separate "logits"
              List.iteri2 (fun i e a -> close $"gradient {i}" e a) separateGrads fusedGrads
          }
          test
              "training steps in a row, reusing the activations each backward handed back, give the separate ops' gradients" {
              let m, x, y = model (), input 8L 8, input 9L 8
              let expectedX, expectedY = trainStep m x true, trainStep m y true
              // From the second step on, the forward runs in storage the previous backward returned to the pool, and the
              // backward rents gradients from it: a too-early return would corrupt these logits or gradients.
              for run in 1..3 do
                  for (expected, expectedGrads), t, name in
                      [ expectedX, x, "first input"; expectedY, y, "second input" ] do
                      let logits, grads = trainStep m t false
                      Expect.sequenceEqual logits expected $"run {run}, {name}: logits"
                      List.iteri2 (fun i e a -> close $"run {run}, {name}: gradient {i}" e a) expectedGrads grads
          }
          test
              "frozen evaluation-mode norms (SeaM's mask training) give the gradients of trainable ones to the bit, twice in a row" {
              let m, x = model (), input 12L 8
              use _ = m.Eval()
              let gradients () =
                  m.ZeroGrad()
                  (Functional.Sum(m.Call x)).Backward()
                  [ for name, p in m.NamedParameters() do
                        if not (name.Contains "bn") then
                            yield p.Grad.ToArray<float32>() |> Array.map System.BitConverter.SingleToInt32Bits ]
              // Trainable norms take the full backward (ReLU mask, per-channel sums, combination); frozen ones the
              // one-pass input gradient. The second frozen step runs in storage the first handed back to the pool.
              let trainable = gradients ()
              for name, p in m.NamedParameters() do
                  if name.Contains "bn" then
                      p.RequiresGrad <- false
              for run in 1..2 do
                  List.iteri2
                      (fun i e a -> Expect.sequenceEqual a e $"run {run}: gradient {i}")
                      trainable
                      (gradients ())
          }
          test "a second backward through a graph whose activations went back to the pool throws" {
              let m, x = model (), input 10L 4
              use _ = m.Train()
              let loss = Functional.Sum(m.Call x)
              loss.Backward()
              Expect.throwsT<System.InvalidOperationException> (fun () -> loss.Backward()) "second backward"
          }
          test "inference under NoGrad, recycling block intermediates, equals the traced forward on every run" {
              let m, x, y = model (), input 5L 16, input 6L 16
              use _ = m.Eval()
              use _ = Autograd.NoGrad()
              let traced (t: Tensor) =
                  use _ = Trace.Start m
                  (m.Call t).ToArray<float32>()
              let expectedX, expectedY = traced x, traced y
              // The second and third runs reuse storage the first handed back; any early reuse would corrupt these logits.
              for run in 1..3 do
                  Expect.sequenceEqual ((m.Call x).ToArray<float32>()) expectedX $"run {run}, first input"
                  Expect.sequenceEqual ((m.Call y).ToArray<float32>()) expectedY $"run {run}, second input"
          }
          test "a forward hook on a block's batch norm sees its output before the ReLU" {
              let m, x = model (), input 7L 4
              use _ = m.Eval()
              use _ = Autograd.NoGrad()
              let struct (_, bn) = m.NamedModules() |> Seq.find (fun struct (name, _) -> name = "layer1.0.bn1")
              let mutable seen = None
              use _ = bn.RegisterForwardHook(fun _ _ output -> seen <- Some(output.ToArray<float32>()))
              m.Call x |> ignore
              Expect.isTrue
                  (seen.Value |> Array.exists (fun v -> v < 0f))
                  "the hooked output is the normalised values, negatives included"
          } ]
