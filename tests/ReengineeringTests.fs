/// SeaM's model re-engineering: target problems and splits, SeaM's selection rule, the mask gradient through a whole
/// model against finite differences, resumption, and the same predictions through the masked, zeroed-dense, sparse
/// and ONNX paths, on a tiny model and on the real ResNet-20.
module Hybrid.Tests.ReengineeringTests

open System
open System.IO
open Expecto
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Data
open Hybrid.Core.Nn.Modules
open Hybrid.Core.Nn.Formats.Onnx.Reader
open Hybrid.Core.Nn.Formats.Onnx.Runtime
open Hybrid.Analysis
open Hybrid.Analysis.Reengineering
open Hybrid.Analysis.Reengineering.TargetProblem

/// Seeded uniform images with labels cycling through 10 classes named "0" .. "9".
let private images (count: int) (channels: int) (size: int) (seed: int64) =
    let g = Generator(seed)
    let pixels = Array.init (count * channels * size * size) (fun _ -> float32 (g.NextDouble()))
    LabelledImages(
        pixels,
        Array.init count (fun i -> int64 (i % 10)),
        count,
        channels,
        size,
        size,
        [ for i in 0..9 -> string i ]
    )

/// Masks set at random (about `removed` of the scores negative) on every maskable layer of the model.
let private randomMasks (net: MaskedModel.ReengineeredNet) (removed: float) (seed: int64) =
    let g = Generator(seed)
    use _ = Autograd.NoGrad()
    for scores in MaskedModel.maskScores net do
        let s = scores.Span<float32>()
        for i in 0 .. s.Length - 1 do
            s.[i] <- if g.NextDouble() < removed then -1.0f else 1.0f

let private tinyNet (seed: int64) =
    let model = Zoo.Zoo.Create("small-cnn", numClasses = 10, inChannels = 1, seed = seed)
    MaskedModel.prepare model 10 2 seed

/// The action must throw the user-facing InputException with this fragment in its message.
let private refuses (fragment: string) (action: unit -> unit) =
    Expect.stringContains (throwsOf<InputException> action).Message fragment "the message names the problem"

let private logits (net: Module) (x: Tensor) =
    use _ = net.Eval()
    use _ = Autograd.NoGrad()
    (net.Call x).ToArray<float32>()

[<Tests>]
let tests =
    testList
        "reengineering"
        [ test "a binary problem is every target image and an equal seeded sample of the rest" {
              let data = images 500 1 8 1L
              let part = [| 0..499 |]
              let set, labels = problemData data (Binary [ 3 ]) part 7L 1L
              Expect.equal set.Count 100 "50 targets and 50 others"
              Expect.equal (labels |> Array.filter ((=) 3L)).Length 50 "the targets"
              Expect.sequenceEqual (set.Labels |> Seq.take 50) (Seq.replicate 50 0L) "targets are label 0"
              Expect.sequenceEqual (set.Labels |> Seq.skip 50) (Seq.replicate 50 1L) "the rest is label 1"
              let again, _ = problemData data (Binary [ 3 ]) part 7L 1L
              Expect.equal again.Images set.Images "the same seed gives the same sample"
              let other, _ = problemData data (Binary [ 3 ]) part 8L 1L
              Expect.notEqual other.Images set.Images "another seed another sample"
          }
          test "a multi-class problem keeps the listed classes, numbered in the given order" {
              let data = images 100 1 4 2L
              let set, labels = problemData data (Classes [ 7; 2 ]) [| 0..99 |] 0L 1L
              Expect.equal set.Count 20 "10 images of each"
              Expect.sequenceEqual set.ClassNames [ "7"; "2" ] "names in order"
              for i in 0 .. set.Count - 1 do
                  Expect.equal set.Labels.[i] (if labels.[i] = 7L then 0L else 1L) "relabelled"
          }
          test "a split's three parts are disjoint, seeded and of the asked sizes" {
              let split = parseSplit 1000 5L (Some "600,100,300")
              let a, b, c = splitIndices 1000 split
              Expect.equal (a.Length, b.Length, c.Length) (600, 100, 300) "sizes"
              Expect.equal (Set.count (Set.ofArray (Array.concat [ a; b; c ]))) 1000 "disjoint"
              let a2, _, _ = splitIndices 1000 split
              Expect.equal a2 a "seeded"
              Expect.equal
                  (parseSplit 1000 0L None)
                  { Train = 600; Validation = 100; Test = 300; Seed = 0L }
                  "default 60/10/30"
          }
          test "classes by name or index, groups and CIFAR-100 superclasses; bad ones are one clear error" {
              let fashion = List.ofSeq FashionMnist.ClassNames
              Expect.equal (resolveClass fashion "sneaker") 7 "by name, any case"
              Expect.equal (resolveClass fashion "9") 9 "by index"
              Expect.equal (resolveClasses fashion None "footwear") [ 5; 7; 9 ] "a named group"
              Expect.equal (resolveBinary fashion "footwear") [ 5; 7; 9 ] "a group against the rest"
              Expect.equal (resolveBinary fashion "Bag") [ 8 ] "one class against the rest"
              Expect.equal (resolveClasses fashion None "Trouser,Bag") [ 1; 8 ] "a list"
              let coarse = Some([ "fish"; "flowers" ], [| 4L; 1L; 30L; 4L |], [| 0L; 0L; 1L; 0L |])
              Expect.equal
                  (resolveClasses [ for i in 0..99 -> string i ] coarse "fish")
                  [ 1; 4 ]
                  "a superclass's fine classes"
              refuses "out of range" (fun () -> resolveClass fashion "10" |> ignore)
              refuses "unknown target class 'boot'" (fun () -> resolveClass fashion "boot" |> ignore)
              refuses "at least 2" (fun () -> resolveClasses fashion None "Bag" |> ignore)
              refuses "more than the dataset" (fun () -> parseSplit 10 0L (Some "5,5,5") |> ignore)
          }
          test
              "SeaM's selection: lowest ratio at 0.1% among epochs reaching the original, ties to accuracy, else acc - ratio" {
              let pick (epochs: (float * float) list) =
                  let s, _ =
                      epochs
                      |> List.indexed
                      |> List.fold
                          (fun (s: MaskTraining.Selection, _) (i, (acc, ratio)) ->
                              s.Add 0.80 { Epoch = i; Accuracy = acc; Ratio = ratio })
                          ({ Reached = None; Fallback = None }, false)
                  s.Kept |> Option.map _.Epoch
              Expect.equal (pick [ 0.70, 0.9; 0.75, 0.5; 0.72, 0.6 ]) (Some 1) "none reaches 0.80: best acc - ratio"
              Expect.equal (pick [ 0.85, 0.9; 0.79, 0.1; 0.81, 0.5; 0.82, 0.3 ]) (Some 3) "lowest ratio that reaches"
              Expect.equal
                  (pick [ 0.81, 0.3004; 0.85, 0.3001; 0.90, 0.2999 ])
                  (Some 2)
                  "0.1% granularity, then accuracy"
              Expect.equal
                  (pick [ 0.81, 0.3004; 0.85, 0.3001; 0.84, 0.3 ])
                  (Some 1)
                  "a tie at 0.1% keeps the higher accuracy"
          }
          test
              "the mask gradient through a whole model equals finite differences of the loss in each weight's multiplier" {
              let net = tinyNet 3L
              let x = Generator(4L).Uniform(0.0, 1.0, ScalarType.Float32, 4, 1, 12, 12)
              let y = Tensor.Wrap([| 0L; 1L; 1L; 0L |], [| 4 |])
              let loss () =
                  use _ = net.Eval()
                  Functional.CrossEntropy(net.Call x, y)
              net.ZeroGrad()
              (loss ()).Backward()
              let alpha = 0.5
              MaskedModel.addRatioGradient net alpha
              let _, total = MaskedModel.weightCounts net
              let g = Generator(9L)
              for _, layer in net.Layers do
                  let grad = layer.WeightMask.Grad.ToArray<float32>()
                  for _ in 1..3 do
                      let i = int (g.NextDouble() * float layer.Weight.Numel)
                      let original = layer.Weight.Span<float32>().[i]
                      let at (m: float32) =
                          layer.Weight.Span<float32>().[i] <- original * m
                          use _ = Autograd.NoGrad()
                          (loss ()).Item()
                      let eps = 1e-2f
                      let numeric = (at (1.0f + eps) - at (1.0f - eps)) / (2.0 * float eps)
                      layer.Weight.Span<float32>().[i] <- original
                      let expected = numeric + alpha / float total
                      // float32 forward passes: the central difference carries about 1e-5 of rounding in the loss.
                      Expect.isLessThanOrEqual
                          (abs (float grad.[i] - expected))
                          (2e-4 + 2e-2 * abs expected)
                          $"weight {i}: mask gradient {grad.[i]} against {expected}"
          }
          test "the same training step twice gives the same mask gradients to the bit (reproducible runs)" {
              let net = tinyNet 12L
              // Enough images of a size that the Cpu backend's convolution splits the batch into dozens of chunks.
              let x = Generator(13L).Uniform(0.0, 1.0, ScalarType.Float32, 256, 1, 32, 32)
              let y = Tensor.Wrap(Array.init 256 (fun i -> int64 (i % 2)), [| 256 |])
              let gradients () =
                  net.ZeroGrad()
                  use _ = net.Eval()
                  Functional.CrossEntropy(net.Call x, y).Backward()
                  MaskedModel.maskScores net |> List.map (fun s -> s.Grad.ToArray<float32>())
              let first = gradients ()
              for _ in 1..3 do
                  Expect.equal (gradients ()) first "identical bits"
          }
          test "a resumed run ends exactly where an uninterrupted run ends" {
              withTempDir (fun dir ->
                  let data = images 120 1 12 5L
                  let train, _ = problemData data (Binary [ 2 ]) [| 0..79 |] 1L 1L
                  let valid, _ = problemData data (Binary [ 2 ]) [| 80..119 |] 1L 2L
                  let o = { MaskTraining.defaults with Epochs = 7; BatchSize = 8; Seed = 3L }
                  let run (out: string) (resume: bool) (stopAfter: int option) =
                      let net = tinyNet 1L
                      let report (p: MaskTraining.Progress) =
                          match p, stopAfter with
                          | Training.EpochDone e, Some k when e.Epoch = k ->
                              raise (OperationCanceledException "interrupted")
                          | _ -> ()
                      let history, selected = MaskTraining.train Device.Cpu o net train valid 0.5 out resume report
                      net, history, selected
                  let whole, wholeHistory, wholeSelected = run (Path.Combine(dir, "a")) false None
                  let part = Path.Combine(dir, "b")
                  Expect.throwsT<OperationCanceledException>
                      (fun () -> run part false (Some 5) |> ignore)
                      "interrupted after 6 epochs"
                  let resumed, resumedHistory, resumedSelected = run part true None
                  Expect.equal resumedSelected wholeSelected "the same epoch selected"
                  let strip = List.map (fun (e: MaskTraining.EpochReport) -> { e with Seconds = 0.0 })
                  Expect.equal (strip resumedHistory) (strip wholeHistory) "the same epochs"
                  for struct (k, v) in whole.StateDict() do
                      let other =
                          resumed.StateDict() |> Seq.find (fun struct (k2, _) -> k2 = k) |> fun struct (_, t) -> t
                      Expect.equal (other.ToDoubleArray()) (v.ToDoubleArray()) $"{k} identical")
          }
          test "masked, zeroed dense, sparse and ONNX (our runtime) give the same logits on a tiny model" {
              withTempDir (fun dir ->
                  let net = tinyNet 6L
                  randomMasks net 0.8 7L
                  let x = Generator(8L).Uniform(0.0, 1.0, ScalarType.Float32, 5, 1, 16, 16)
                  let masked = logits net x
                  let plain =
                      MaskedModel.zeroed net (fun () -> Zoo.Zoo.Create("small-cnn", numClasses = 10, inChannels = 1))
                  let dense = logits plain x
                  // Every layer on the sparse kernels, whatever it keeps; by default only those keeping at most 50% are.
                  for _, l in plain.Layers do
                      l.UseSparse(true, 1.0)
                      Expect.isTrue l.IsSparse "forced sparse"
                  let sparse = logits plain x
                  for _, l in plain.Layers do
                      l.UseSparse false
                  let path = Path.Combine(dir, "m.onnx")
                  Training.save plain [| 1; 16; 16 |] (readOnlyDict []) path
                  let onnx = OnnxSession(OnnxModel.Load path, Device.Cpu).Run(x).ToArray<float32>()
                  // Different summation orders only: float32 rounding of sums of a few hundred terms.
                  closeTo 1e-4 1e-4 "zeroed dense vs masked" masked dense
                  closeTo 1e-4 1e-4 "sparse vs masked" masked sparse
                  closeTo 1e-4 1e-4 "ONNX vs masked" masked onnx)
          }
          test "sparse inference compresses only layers keeping at most 50%; the others stay dense with the same output" {
              let x = Generator(3L).Normal(0.0, 1.0, ScalarType.Float32, 2, 8, 6, 6)
              for keep, sparse in [ 0.2, true; 0.4, true; 0.7, false ] do
                  let conv = Conv2d(8, 8, Size2(3, 3), padding = Size2(1, 1))
                  let random = Random 4
                  for i in 0 .. int conv.Weight.Numel - 1 do
                      if random.NextDouble() >= keep then
                          conv.Weight.Span<float32>().[i] <- 0.0f
                  let dense = (using (Autograd.NoGrad()) (fun _ -> conv.Call x)).ToArray<float32>()
                  conv.UseSparse true
                  Expect.equal conv.IsSparse sparse $"{keep:P0} kept: sparse {sparse}"
                  let chosen = (using (Autograd.NoGrad()) (fun _ -> conv.Call x)).ToArray<float32>()
                  // The sparse kernel sums in another order: float32 rounding of sums of up to 72 terms.
                  closeTo 1e-5 1e-5 $"{keep:P0} kept vs dense" dense chosen
          }
          test "the real ResNet-20 with 90% of its weights removed: masked, dense, sparse and ONNX agree on CIFAR-10" {
              let model =
                  Networks.loadModule Device.Cpu (sharedFile "models/cifar10-resnet20/model.safetensors") None |> snd
              let net = MaskedModel.prepare model 10 2 0L
              randomMasks net 0.9 11L
              let data = Cifar.Load(sharedFile "data/cifar10/test_batch.bin", Cifar.Kind.Cifar10)
              let x = Tensor.Wrap(data.Images.[.. 32 * 3072 - 1], [| 32; 3; 32; 32 |])
              let masked = logits net x
              let plain = MaskedModel.zeroed net (fun () -> Zoo.Zoo.Create("cifar-resnet20", numClasses = 10))
              let dense = logits plain x
              for _, l in plain.Layers do
                  l.UseSparse(true, 1.0)
              let sparse = logits plain x
              let kept, total = MaskedModel.weightCounts net
              Expect.isLessThan (float kept / float total) 0.12 "about 10% kept"
              withTempDir (fun dir ->
                  for _, l in plain.Layers do
                      l.UseSparse false
                  let path = Path.Combine(dir, "r.onnx")
                  Training.save plain [| 3; 32; 32 |] (readOnlyDict []) path
                  let onnx = OnnxSession(OnnxModel.Load path, Device.Cpu).Run(x).ToArray<float32>()
                  closeTo 1e-3 1e-3 "ONNX vs masked" masked onnx)
              closeTo 1e-3 1e-3 "zeroed dense vs masked" masked dense
              closeTo 1e-3 1e-3 "sparse vs masked" masked sparse
          }
          test "hybrid reengineer: bad input is one error line before any training, and nothing is written" {
              withTempDir (fun dir ->
                  let resnet = sharedPath "models/cifar10-resnet20/model.safetensors"
                  let cifar = "cifar10:" + sharedPath "data/cifar10/test_batch.bin"
                  let out = Path.Combine(dir, "out")
                  let run (args: string list) = CliTests.runCli ([ "reengineer"; "--out"; out ] @ args)
                  let cases =
                      [ [ "--model"; resnet; "--dataset"; cifar; "--target-class"; "12" ],
                        "target class 12 is out of range"
                        [ "--model"; resnet; "--dataset"; cifar; "--target-class"; "zebra" ],
                        "unknown target class 'zebra'"
                        [ "--model"; resnet; "--dataset"; cifar; "--target-classes"; "cat" ], "at least 2"
                        [ "--model"; resnet; "--dataset"; cifar ], "exactly one of --target-class and --target-classes"
                        [ "--model"
                          sharedPath "models/cifar10-resnet20/model.onnx"
                          "--dataset"
                          cifar
                          "--target-class"
                          "cat" ],
                        "an ONNX graph cannot be masked"
                        [ "--model"; resnet; "--dataset"; "random:20:1x28x28"; "--target-class"; "3" ],
                        "does not take the dataset's 1x28x28 images"
                        [ "--model"
                          resnet
                          "--dataset"
                          "random:20:3x32x32"
                          "--target-class"
                          "3"
                          "--split"
                          "1,1,1" ],
                        "holds no image of the target problem"
                        [ "--model"; resnet; "--dataset"; cifar; "--target-class"; "cat"; "--split"; "9000,1000,1000" ],
                        "more than the dataset" ]
                  for args, fragment in cases do
                      let code, stdout, err = run args
                      let line = err.Trim()
                      Expect.equal code 1 (sprintf "%A: exit code (stderr: %s)" args err)
                      Expect.isFalse (line.Contains '\n') (sprintf "%A: one line: %s" args line)
                      Expect.stringContains line fragment (sprintf "%A: names the problem" args)
                      Expect.equal stdout "" (sprintf "%A: nothing on stdout" args)
                      Expect.isFalse (Directory.Exists out) (sprintf "%A: nothing written" args))
          } ]
