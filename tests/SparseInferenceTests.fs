/// Whole-model sparse inference (Core.Nn's SparseInference): batch norms folded into the sparse convolutions that feed
/// them, checked against the dense model on the real ResNet-20 and CIFAR-10; folds that would change the function
/// undone; training mode and autograd running the unfolded layers; and the storage recycling of the CIFAR ResNet's
/// forward never touching a value that a hook holds.
module Hybrid.Tests.SparseInferenceTests

open Expecto
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Modules
open Hybrid.Core.Nn.Zoo

/// The model's sub-modules of type 'T, in registration order.
let private modulesOf<'T> (model: Module) =
    [ for struct (_, m) in model.NamedModules() do
          match box m with
          | :? 'T as t -> yield t
          | _ -> () ]

/// The model's sub-module registered under path.
let private moduleAt (path: string) (model: Module) =
    model.NamedModules() |> Seq.pick (fun struct (p, m) -> if p = path then Some m else None)

/// Sets a seeded random share `removed` of every convolution's weights to zero (as a re-engineered model keeps them).
let private prune (model: Module) (removed: float) (seed: int) =
    let random = System.Random seed
    for conv in modulesOf<Conv2d> model do
        let w = conv.Weight.Span<float32>()
        for i in 0 .. w.Length - 1 do
            if random.NextDouble() < removed then
                w.[i] <- 0.0f

let private evalOutput (model: Module) (x: Tensor) =
    use _ = model.Eval()
    use _ = Autograd.NoGrad()
    model.Call(x).ToArray<float32>()

/// The first `count` CIFAR-10 test images, as the stored bytes scaled to [0, 1].
let private cifar (count: int) =
    let data = Data.Cifar.Load(sharedFile "data/cifar10/test_batch.bin", Data.Cifar.Kind.Cifar10)
    Tensor.Wrap(data.Images.[.. count * 3072 - 1], [| count; 3; 32; 32 |])

let private resnet20 () =
    Hybrid.Analysis.Networks.loadModule Device.Cpu (sharedFile "models/cifar10-resnet20/model.safetensors") None |> snd

/// y = bn(conv(x)) + conv(x): the convolution's output is read outside any module as well, which hooks cannot see.
type private ReadTwice() as this =
    inherit Module()
    let conv = this.RegisterModule("conv", new Conv2d(4, 4, Size2(3, 3), padding = Size2(1, 1)))
    let norm = this.RegisterModule("bn", new BatchNorm2d(4))

    override _.Forward x =
        let c = conv.Call x
        Functional.Add(norm.Call c, c)

[<Tests>]
let tests =
    testList
        "sparse inference"
        [ test
              "the real ResNet-20 with 90% of its weights removed: every batch norm folds, and the logits stay the dense ones" {
              let model = resnet20 ()
              prune model 0.9 1
              let x = cifar 32
              let dense = evalOutput model x
              let plan = SparseInference.Enable(model, x, 1.0)
              Expect.equal
                  plan
                  (SparseInferencePlan(20, 0, 19))
                  "19 convolutions and the linear sparse, 19 norms folded"
              let folded = evalOutput model x
              // Summation order and the float32 rounding of the folded weights: logits of size ~10 over 20 layers.
              closeTo 1e-3 1e-3 "folded sparse vs dense" dense folded
              Expect.equal
                  (Array.init 32 (fun i ->
                      Array.findIndex ((=) (Array.max folded.[i * 10 .. i * 10 + 9])) folded.[i * 10 .. i * 10 + 9]))
                  (Array.init 32 (fun i ->
                      Array.findIndex ((=) (Array.max dense.[i * 10 .. i * 10 + 9])) dense.[i * 10 .. i * 10 + 9]))
                  "the same predicted classes"
              SparseInference.Disable model
              Expect.equal (evalOutput model x) dense "disabled: the dense path again, bit for bit"
          }
          test
              "by the measured rule, the stem above the ceiling stays dense untimed, every other layer keeps its faster kernel, and only sparse layers fold" {
              let model = Zoo.Create("cifar-resnet20", seed = 3L)
              prune model 0.9 2
              // The stem keeps everything: it stays dense and its norm normalises as usual.
              let stem = moduleAt "conv1" model :?> Conv2d
              Generator(4L)
                  .Normal(0.0, 1.0, ScalarType.Float32, stem.Weight.Shape)
                  .Span<float32>()
                  .CopyTo(stem.Weight.Span<float32>())
              let x = Generator(5L).Normal(0.0, 1.0, ScalarType.Float32, 4, 3, 32, 32)
              let dense = evalOutput model x
              let plan = SparseInference.Enable(model, x)
              let layers = modulesOf<MaskableLayer> model
              Expect.equal (plan.SparseLayers + plan.DenseLayers) 20 "19 convolutions and the linear"
              Expect.isFalse stem.IsSparse "the stem keeps 100%: dense"
              Expect.isTrue (System.Double.IsNaN stem.Choice.DenseSeconds) "the stem is not timed"
              for l in layers do
                  let c = l.Choice
                  Expect.isNotNull c "every layer records its choice"
                  Expect.equal l.IsSparse c.Sparse "the layer runs what it chose"
                  if not (System.Double.IsNaN c.DenseSeconds) then
                      Expect.isLessThanOrEqual c.Density MaskableLayer.SparseCeiling "timed only below the ceiling"
                      Expect.equal c.Sparse (c.SparseSeconds < c.DenseSeconds) "the faster kernel"
              Expect.equal
                  plan.SparseLayers
                  (layers |> List.filter (fun l -> l.IsSparse) |> List.length)
                  "the plan counts them"
              // The linear is not pruned (dense, above the ceiling); each sparse convolution's norm folds.
              Expect.equal plan.FoldedNorms plan.SparseLayers "only sparse layers fold"
              closeTo 1e-4 1e-4 "measured plan vs dense" dense (evalOutput model x)
          }
          test "a fold whose layer output is also read outside any module is found by the check and undone" {
              let model = ReadTwice()
              let norm = modulesOf<BatchNorm2d> model |> List.head
              norm.RunningMean.Fill 0.5 |> ignore
              norm.RunningVar.Fill 4.0 |> ignore
              let x = Generator(6L).Normal(0.0, 1.0, ScalarType.Float32, 2, 4, 5, 5)
              let dense = evalOutput model x
              let plan = SparseInference.Enable(model, x, 1.0)
              Expect.equal plan (SparseInferencePlan(1, 0, 0)) "sparse, but not folded"
              closeTo 1e-5 1e-5 "unfolded sparse vs dense" dense (evalOutput model x)
          }
          test "a folded model in training mode, or recording gradients, runs its layers and norms unfolded" {
              let make () =
                  let m = Zoo.Create("cifar-resnet20", seed = 7L)
                  prune m 0.9 3
                  m
              let reference, folded = make (), make ()
              let x = Generator(8L).Normal(0.0, 1.0, ScalarType.Float32, 4, 3, 32, 32)
              let plan = SparseInference.Enable(folded, x, 1.0)
              Expect.equal plan.FoldedNorms 19 "all folded"
              // Training mode under NoGrad: batch statistics of the unfolded convolutions, running statistics updated.
              let train (m: Module) =
                  use _ = m.Train()
                  use _ = Autograd.NoGrad()
                  m.Call(x).ToArray<float32>()
              closeTo 1e-5 1e-5 "training-mode forward" (train reference) (train folded)
              let runningMean (m: Module) =
                  modulesOf<BatchNorm2d> m |> List.map (fun n -> n.RunningMean.ToArray<float32>()) |> Array.concat
              closeTo 1e-6 1e-5 "running means updated alike" (runningMean reference) (runningMean folded)
              // Evaluation with autograd on: the masked/dense path, whose norms normalise.
              let withGrad (m: Module) =
                  use _ = m.Eval()
                  m.Call(x).ToArray<float32>()
              closeTo 1e-5 1e-5 "evaluation with autograd" (withGrad reference) (withGrad folded)
          }
          test "the CIFAR ResNet's recycled block outputs never include one a hook holds" {
              let model = Zoo.Create("cifar-resnet20", seed = 9L)
              let x = Generator(10L).Normal(0.0, 1.0, ScalarType.Float32, 2, 3, 32, 32)
              let block = moduleAt "layer1.1" model
              let held = ResizeArray<Tensor * float32[]>()
              use _ = block.RegisterForwardHook(fun _ _ output -> held.Add((output, output.ToArray<float32>())))
              for _ in 1..3 do
                  evalOutput model x |> ignore
              for output, copy in held do
                  Expect.equal
                      (output.ToArray<float32>())
                      copy
                      "the hooked block's outputs are intact after later forwards"
          }
          test "a folded sparse forward hands its intermediates back to the pool, as the dense one does" {
              let model = Zoo.Create("cifar-resnet20", seed = 11L)
              prune model 0.9 4
              let x = Generator(12L).Normal(0.0, 1.0, ScalarType.Float32, 16, 3, 32, 32)
              // Bytes this thread allocates in one forward once the pool holds what the forward returns to it; the
              // kernels' own work on other threads is not counted.
              let allocated () =
                  for _ in 1..3 do
                      evalOutput model x |> ignore
                  let before = System.GC.GetAllocatedBytesForCurrentThread()
                  evalOutput model x |> ignore
                  System.GC.GetAllocatedBytesForCurrentThread() - before
              let dense = allocated ()
              SparseInference.Enable(model, x, 1.0) |> ignore
              let sparse = allocated ()
              // A folded norm passes conv2's output through as its own; a block that returned only distinct outputs
              // lost conv2's output every time (5 MB of a batch-16 forward). The sparse kernels' tap-offset arrays
              // (about 2 KB a layer) may come on top; the smallest lost output, layer3's, would be 256 KB.
              let slack = int64 (16 * 64 * 8 * 8 * sizeof<float32> / 2)
              Expect.isLessThanOrEqual
                  sparse
                  (dense + slack)
                  "the folded sparse forward allocates about what the dense one does"
          } ]
