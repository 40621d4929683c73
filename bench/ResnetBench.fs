/// `hybrid bench resnet`: the whole CIFAR ResNet-20 (option-A shortcuts), inference at batch 256 and one training step
/// at batch 64 (SGD, momentum 0.9, Nesterov, weight decay 5e-4, cross-entropy), against PyTorch on the CPU with all
/// cores. Both sides use their own random weights and inputs of the same shapes: the work per case is identical.
module Hybrid.Bench.ResnetBench

open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Zoo
open Hybrid.Bench.Report

type Options = { InferenceBatch: int; TrainBatch: int; Timing: Timing.Policy }

let defaults = { InferenceBatch = 256; TrainBatch = 64; Timing = Timing.standard }

/// The same batches, timed briefly, for the demo (smaller batches would time start-up costs rather than the network).
let quick = { defaults with Timing = Timing.quick }

let peer = { Peers.Script = "resnet_torch.py"; Peers.Packages = [ "python3-torch" ] }

let private inferenceCase (o: Options) = $"resnet20 inference batch {o.InferenceBatch}"
let private trainCase (o: Options) = $"resnet20 train step batch {o.TrainBatch}"

/// Our seconds for the two cases on device.
let private timeOurs (device: Device) (o: Options) =
    let model = Zoo.Create("cifar-resnet20", seed = int64 Data.seed)
    model.To device |> ignore
    let generator = Generator(int64 Data.seed)
    let x = generator.Normal(0.0, 1.0, ScalarType.Float32, o.InferenceBatch, 3, 32, 32).To device
    let inference =
        use _ = model.Eval()
        Timing.measureOn device o.Timing (fun () ->
            use _ = Autograd.NoGrad()
            model.Call x |> ignore)
    let xt = generator.Normal(0.0, 1.0, ScalarType.Float32, o.TrainBatch, 3, 32, 32).To device
    let labels = Array.init o.TrainBatch (fun i -> int64 (i % 10))
    let yt = Tensor.From(labels, [| o.TrainBatch |], device)
    let optimizer = Optim.SGD(model.Parameters(), 0.1, momentum = 0.9, weightDecay = 5e-4, nesterov = true)
    let training =
        use _ = model.Train()
        Timing.measureOn device o.Timing (fun () ->
            optimizer.ZeroGrad()
            let loss = Functional.CrossEntropy(model.Call xt, yt)
            loss.Backward()
            optimizer.Step())
    inference, training

let run (device: Device) (o: Options) =
    progress "resnet" $"timing ResNet-20 on {device.Name}"
    let inference, training = timeOurs device o
    progress "resnet" "timing the PyTorch peer"
    let outcome =
        Peers.runTimed
            peer
            o.Timing
            [ "--inference-batch"; string o.InferenceBatch; "--train-batch"; string o.TrainBatch ]
    let torchCase = Peers.toCase "torch" outcome
    progress "resnet" "timing the TorchSharp peer"
    let torchSharp =
        TorchSharpPeer.timeIfAvailable (fun () -> TorchSharpPeer.resnet o.Timing o.InferenceBatch o.TrainBatch)
    { Benchmark = "resnet"
      Device = device.Name
      Cores = cores ()
      Cases =
        [ torchCase (inferenceCase o) inference
          TorchSharpPeer.case (Result.map fst torchSharp) (inferenceCase o) inference
          torchCase (trainCase o) training
          TorchSharpPeer.case (Result.map snd torchSharp) (trainCase o) training ] }
