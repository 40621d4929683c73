/// `hybrid bench reengineer`: one mask-training epoch of SeaM's re-engineering of CIFAR ResNet-20 on a binary target
/// problem (1,182 images, the size of the `airplane` problem carved from the CIFAR-10 test file), the same step as
/// `hybrid reengineer` runs (MaskTraining.step), against a PyTorch implementation of the same masked training on the
/// same cores (peers/reengineer_torch.py). Random weights and images of the same shapes on both sides. Given the output
/// folder of a `hybrid reengineer` run, it also times that model's inference at batch 1 and 16 on our sparse kernels
/// against our dense ones and against ONNX Runtime on the exported dense model.onnx.
module Hybrid.Bench.ReengineerBench

open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Modules
open Hybrid.Core.Nn.Zoo
open Hybrid.Analysis.Reengineering
open Hybrid.Bench.Report

type Options = { Images: int; Batch: int; Reengineered: string option; Timing: Timing.Policy }

let defaults = { Images = 1182; Batch = 64; Reengineered = None; Timing = Timing.standard }

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

/// Which kernel each layer runs, with its share kept and, where the measured rule timed both, the two times: "conv1
/// dense 53% (above the ceiling)", "layer1.0.conv1 sparse 21% (0.41 vs 0.90 ms)".
let private kernels (net: MaskedModel.ReengineeredNet) =
    [ for path, layer in net.Layers do
          match layer.Choice with
          | null -> path + (if layer.IsSparse then " sparse" else " dense")
          | c when System.Double.IsNaN c.DenseSeconds -> $"{path} dense %.0f{c.Density * 100.0}%% (above the ceiling)"
          | c ->
              let kernel = if c.Sparse then "sparse" else "dense"
              $"{path} {kernel} %.0f{c.Density * 100.0}%% (%.2f{c.SparseSeconds * 1e3} vs %.2f{c.DenseSeconds * 1e3} ms)" ]
    |> String.concat ", "

/// Inference of a re-engineered model (its folder) at batch 1 and 16: ours sparse against ours dense, and against ONNX
/// Runtime on the dense export, on the same seeded inputs. A forward takes milliseconds, so the policy's cap on repeats
/// (set for cases of seconds) would end the sampling after a few tenths of a second, which on a crowded machine holds
/// too few calls that escape the other processes: here each side repeats ten times as often, up to the policy's seconds.
let private inferenceCases (device: Device) (o: Options) (dir: string) =
    let o = { o with Timing = { o.Timing with MaxRepeats = 10 * o.Timing.MaxRepeats } }
    let net = MaskedModel.loadZeroed device (System.IO.Path.Combine(dir, "model.safetensors"))
    use ort = new OnnxRuntimePeer.Session(System.IO.Path.Combine(dir, "model.onnx"))
    let layer = net.Layers |> List.head |> snd
    let channels = layer.Weight.Size 1
    [ for batch in [ 1; 16 ] do
          let x = Generator(int64 Data.seed).Uniform(0.0, 1.0, ScalarType.Float32, batch, channels, 32, 32).To device
          let forward () =
              use _ = net.Eval()
              use _ = Autograd.NoGrad()
              net.Call x |> ignore
          let dense = Timing.measureOn device o.Timing forward
          let plan = SparseInference.Enable(net, x)
          let sparse = Timing.measureOn device o.Timing forward
          // Read before Disable, which drops each layer's choice.
          let chosen = kernels net
          SparseInference.Disable net
          let onnx = Timing.measure o.Timing (fun () -> ort.Run x |> ignore)
          let case = $"reengineered model sparse batch {batch}"
          let note =
              $"{plan.SparseLayers} of {net.Layers.Length} layers on the sparse kernels by the measured rule, {plan.FoldedNorms} batch norms folded into them; {chosen}"
          yield { Case = case; OursS = sparse; Peer = "hybrid dense"; PeerS = Some dense; Note = Some note }
          yield { Case = case; OursS = sparse; Peer = "onnxruntime dense"; PeerS = Some onnx; Note = None } ]

let run (device: Device) (o: Options) =
    progress "reengineer" $"timing one mask-training epoch of ResNet-20 on {device.Name}"
    let ours = timeOurs device o
    progress "reengineer" "timing the PyTorch peer"
    let outcome = Peers.runTimed peer o.Timing [ "--images"; string o.Images; "--batch"; string o.Batch ]
    { Benchmark = "reengineer"
      Device = device.Name
      Cores = cores ()
      Cases =
        Peers.toCase "torch" outcome (caseName o) ours
        :: (o.Reengineered |> Option.map (inferenceCases device o) |> Option.defaultValue []) }
