/// `hybrid train` and `hybrid reengineer` on the TorchSharp engine against Core.Nn: short seeded runs of each on both
/// engines give the same losses, accuracies and weight ratios within stated tolerances, and bad --engine values are
/// one error line.
///
/// What is shared and what is not: both engines read the same batches in the same order with the same augmentation
/// (the loops and Core.Nn's DataLoader are shared), start from the same weights (the twin is a copy of the Core.Nn
/// model, the new head included) and run the same algorithm (SGD with Nesterov momentum, weight decay and a cosine
/// schedule; SeaM's two Adams, loss and straight-through masks). They differ in the order of float32 sums (libtorch's
/// convolution, BatchNorm and reductions against ours) and would differ in random draws (libtorch's generator against
/// ours), which these models do not make: ResNet-20 has no dropout. So the figures agree to float32 rounding grown over
/// a few steps, not to the bit.
module Hybrid.Tests.TorchInteropEngineTests

open System.IO
open Expecto
open Hybrid.Core.Nn
open Hybrid.Analysis
open Hybrid.Analysis.Reengineering
open Hybrid.TorchInterop
open Hybrid.Tests.TorchInteropTests

/// Within `images` of `n` images: accuracies computed from logits that differ in their last bits can differ where
/// two classes' logits are nearly tied.
let private testImages =
    lazy (Hybrid.Core.Nn.Data.DatasetSpec.Load("cifar10:" + sharedFile "data/cifar10/test_batch.bin"))

let private accuracyClose (images: int) (n: int) (what: string) (expected: float) (actual: float) =
    Expect.floatClose { absolute = float images / float n + 1e-12; relative = 0.0 } actual expected what

/// Three steps of each learner on float64 copies of one small-cnn in training mode (convolutions, BatchNorm on batch
/// statistics, max pooling, a linear head; Core.Nn's float64 convolution is slow, hence not ResNet-20): the same SGD,
/// Nesterov momentum, weight decay and cosine schedule, so the losses and weights agree to float64 rounding.
let private stepsCase () =
    let options = { Training.defaults "small-cnn" with Epochs = 1; LearningRate = 0.05 }
    let model () = Zoo.Zoo.Create("small-cnn", inChannels = 1, seed = 4L).To ScalarType.Float64
    let core, other = model (), model ()
    let learners = [ Training.coreEngine options core 3; Learners.training options other 3 ]
    let g = Generator 6L

    for step in 1..3 do
        let x = g.Normal(0.0, 1.0, ScalarType.Float64, 16, 1, 28, 28)
        let y = Tensor.Wrap(Array.init 16 (fun i -> int64 ((i * step) % 10)), [| 16 |])
        let rates = [ for l in learners -> l.LearningRate ]
        let losses = [ for l in learners -> fst (l.Step(x, y)) ]
        Expect.floatClose { absolute = 0.0; relative = 1e-12 } rates.[1] rates.[0] $"step {step} learning rate"
        Expect.floatClose { absolute = 1e-12; relative = 1e-10 } losses.[1] losses.[0] $"step {step} loss"

    learners.[1].Sync()
    let trained = dict [ for struct (k, v) in other.StateDict() -> k, v.ToDoubleArray() ]

    for struct (k, v) in core.StateDict() do
        closeTo64 1e-10 1e-8 $"trained {k}" (v.ToDoubleArray()) trained.[k]

let private trainOn (engine: Training.Engine) (dir: string) =
    let options = { Training.defaults "cifar-resnet20" with Epochs = 2; BatchSize = 32; LearningRate = 0.05; Seed = 4L }
    let out = Path.Combine(Directory.CreateDirectory(dir).FullName, "model.safetensors")
    Train.runWith engine Device.Cpu options "random:96:3x32x32:5" (Some "random:64:3x32x32:6") out false ignore, out

let private trainCase () =
    withTempDir (fun dir ->
        let core, coreOut = trainOn Training.coreEngine (Path.Combine(dir, "core"))
        let torch, torchOut = trainOn Learners.training (Path.Combine(dir, "torch"))

        for c, t in List.zip core.Epochs torch.Epochs do
            // float32: the gradients differ by up to 7e-6 of their largest element (BatchNorm's backward subtracts
            // nearly equal sums), and six steps on random labels grow that: measured 5e-5 relative in the second
            // epoch's loss. The float64 steps above check the algorithm to rounding.
            Expect.floatClose { absolute = 1e-5; relative = 1e-3 } t.Loss c.Loss $"epoch {c.Epoch} loss"
            Expect.floatClose { absolute = 1e-12; relative = 1e-9 } t.Lr c.Lr $"epoch {c.Epoch} learning rate"
            accuracyClose 1 96 $"epoch {c.Epoch} train accuracy" c.TrainAccuracy t.TrainAccuracy
            accuracyClose 1 64 $"epoch {c.Epoch} test accuracy" c.TestAccuracy.Value t.TestAccuracy.Value

        let coreState, torchState = Formats.StateDicts.Load coreOut, Formats.StateDicts.Load torchOut

        for kv in coreState do
            // Measured: 6.5e-4 at most, after updates of order 1e-2.
            closeTo64 5e-3 0.0 $"trained {kv.Key}" (kv.Value.ToDoubleArray()) (torchState.[kv.Key].ToDoubleArray()))

/// The real CIFAR-10 ResNet-20 prepared for SeaM (masks, the new head) and trained on one engine: cats against the rest
/// drawn from the first 600 test images, validated on the next 300; the fast schedule's magnitude scores, so that masks
/// move within the three epochs (the first trains the head alone).
let private reengineerOn (engine: MaskTraining.Engine) (dir: string) =
    let data = testImages.Value
    let o =
        { MaskTraining.defaults with
            Epochs = 3
            Seed = 2L
            Schedule = MaskTraining.Fast
            Mean = Some [| 0.485f; 0.456f; 0.406f |]
            Std = Some [| 0.229f; 0.224f; 0.225f |] }
    let part (indices: int[]) stream =
        fst (TargetProblem.problemData data (TargetProblem.Binary [ 3 ]) indices 2L stream)
    let train, valid = part [| 0..599 |] 1L, part [| 600..899 |] 2L
    let _, model = Networks.loadModule Device.Cpu (sharedFile "models/cifar10-resnet20/model.safetensors") None
    let net = MaskedModel.prepare model 10 2 o.Seed
    let history, _ = MaskTraining.trainWith engine Device.Cpu o net train valid 0.5 dir false ignore
    history, MaskedModel.weightRatio net, train.Count, valid.Count

let private reengineerCase () =
    withTempDir (fun dir ->
        let core, coreKept, images, validation = reengineerOn MaskTraining.coreEngine (Path.Combine(dir, "core"))
        let torch, torchKept, _, _ = reengineerOn Learners.masking (Path.Combine(dir, "torch"))

        for c, t in List.zip core torch do
            let e = $"epoch {c.Epoch}"
            Expect.equal t.HeadOnly c.HeadOnly $"{e} phase"
            // Both engines run the same masked kernels; the rest sums in other orders (measured: the ratios equal to
            // 1e-6, the losses to 2e-7). The magnitude scores put many weights next to the threshold, so a score may
            // cross it on one engine only: the ratio is compared to a thousandth of the weights.
            Expect.floatClose { absolute = 1e-3; relative = 0.0 } t.WeightRatio c.WeightRatio $"{e} weight ratio"
            Expect.floatClose { absolute = 1e-5; relative = 1e-4 } t.CrossEntropy c.CrossEntropy $"{e} cross-entropy"
            Expect.floatClose { absolute = 1e-5; relative = 1e-4 } t.Loss c.Loss $"{e} loss"
            Expect.floatClose { absolute = 1e-9; relative = 1e-3 } t.Alpha c.Alpha $"{e} alpha"
            accuracyClose 1 images $"{e} train accuracy" c.TrainAccuracy t.TrainAccuracy
            accuracyClose 1 validation $"{e} validation accuracy" c.ValidationAccuracy t.ValidationAccuracy

        Expect.isLessThan coreKept 0.99 "the masks removed weights (the comparison is not of untouched masks)"
        Expect.floatClose { absolute = 1e-3; relative = 0.0 } torchKept coreKept "weights kept")

let private badEngineCase () =
    withTempDir (fun dir ->
        let resnet = sharedPath "models/cifar10-resnet20/model.safetensors"

        for args in
            [ [ "eval"; "--model"; resnet; "--dataset"; "random:4:3x32x32" ]
              [ "train"; "--arch"; "small-cnn"; "--dataset"; "random:4:1x28x28"; "--out"; Path.Combine(dir, "m.pt") ]
              [ "reengineer"
                "--model"
                resnet
                "--dataset"
                "random:20:3x32x32"
                "--target-class"
                "3"
                "--out"
                Path.Combine(dir, "r") ] ] do
            let code, out, err = CliTests.runCli (args @ [ "--engine"; "pytorch" ])
            Expect.equal code 1 $"{args.Head}: exit code"
            Expect.equal
                (err.Trim())
                "hybrid: error: --engine pytorch: unknown engine; use core or torchsharp"
                "one line"
            Expect.equal out "" "nothing on stdout"

        Expect.isEmpty (Directory.GetFileSystemEntries dir) "nothing written")

[<Tests>]
let tests =
    testList
        "torchsharp engine: train and reengineer"
        [ torchCase "train: three float64 steps of each learner give the same losses and weights to rounding" stepsCase
          torchCase "train: two seeded epochs of ResNet-20 give Core.Nn's losses, accuracies and weights" trainCase
          torchCase "reengineer: three seeded epochs of SeaM's masks on ResNet-20 give Core.Nn's figures" reengineerCase
          testCase "a bad --engine is one error line on eval, train and reengineer" badEngineCase ]
