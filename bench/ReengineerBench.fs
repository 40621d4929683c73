/// `hybrid bench reengineer`: one mask-training epoch of SeaM's re-engineering of CIFAR ResNet-20 on a binary target
/// problem (1,182 images, the size of the `airplane` problem carved from the CIFAR-10 test file), the same step as
/// `hybrid reengineer` runs (MaskTraining.step), against a PyTorch implementation of the same masked training on the
/// same cores (peers/reengineer_torch.py). Random weights and images of the same shapes on both sides.
module Hybrid.Bench.ReengineerBench

open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Zoo
open Hybrid.Analysis.Reengineering
open Hybrid.Bench.Report

type Options = { Images: int; Batch: int; Timing: Timing.Policy }

let defaults = { Images = 1182; Batch = 64; Timing = Timing.standard }

let peer = { Peers.Script = "reengineer_torch.py"; Peers.Packages = [ "python3-torch" ] }

let private caseName (o: Options) = $"reengineer resnet20 mask epoch {o.Images} images"

/// Our seconds for one epoch of mask steps on device.
let private timeOurs (device: Device) (o: Options) =
    let model = Zoo.Create("cifar-resnet20", seed = int64 Data.seed).To device
    let net = MaskedModel.prepare model 10 2 (int64 Data.seed)
    let settings = { MaskTraining.defaults with BatchSize = o.Batch }
    let _, optimizer = MaskTraining.optimizers net settings
    let generator = Generator(int64 Data.seed)
    let batches =
        [ for start in 0 .. o.Batch .. o.Images - 1 ->
              let n = min o.Batch (o.Images - start)
              generator.Normal(0.0, 1.0, ScalarType.Float32, n, 3, 32, 32).To device,
              Tensor.From(Array.init n (fun i -> int64 ((start + i) % 2)), [| n |], device) ]
    use _ = MaskTraining.trainingMode net
    Timing.measureOn device o.Timing (fun () ->
        for x, y in batches do
            MaskTraining.step net optimizer false settings.Alpha x y |> ignore)

let run (device: Device) (o: Options) =
    progress "reengineer" $"timing one mask-training epoch of ResNet-20 on {device.Name}"
    let ours = timeOurs device o
    progress "reengineer" "timing the PyTorch peer"
    let outcome =
        Peers.run
            peer
            ([ "--images"; string o.Images; "--batch"; string o.Batch ]
             @ Timing.toArgs o.Timing
             @ [ "--seed"; string Data.seed ])
    { Benchmark = "reengineer"
      Device = device.Name
      Cores = cores ()
      Cases = [ Peers.toCase "torch" outcome (caseName o) ours ] }
