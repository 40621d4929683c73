/// `hybrid bench conv`: the distinct 3x3 convolutions of CIFAR ResNet-20 and VGG-16, forward + backward, plain and
/// masked, against PyTorch on the CPU; and the sparse (CSR, 10% kept) forward against our own dense forward.
module Hybrid.Bench.ConvBench

open System
open Hybrid.Core.Gpu
open Hybrid.Bench.Report

type ModelSet =
    | ResNet20
    | Vgg16
    | All

module ModelSet =
    /// Parses "resnet20", "vgg16" or "all", as the CLI spells them.
    let parse (name: string) =
        match name.Trim().ToLowerInvariant() with
        | "resnet20" -> ResNet20
        | "vgg16" -> Vgg16
        | "all" -> All
        | _ -> invalidArg (nameof name) $"unknown model set '{name}': expected resnet20, vgg16 or all"

/// One 3x3 convolution with padding 1 on a Size x Size input, as it occurs in a model.
type Layer =
    { Model: string
      InChannels: int
      OutChannels: int
      Size: int
      Stride: int
      Bias: bool }

    /// The name of the layer's cases, shared with the peer's output.
    member l.Name = $"{l.Model} {l.InChannels}-{l.OutChannels} s{l.Stride} {l.Size}x{l.Size}"

let private layer model bias (cin, cout, size, stride) =
    { Model = model; InChannels = cin; OutChannels = cout; Size = size; Stride = stride; Bias = bias }

/// ResNet-20 for CIFAR: three stages of 16, 32 and 64 channels, the first convolution of a stage halving the
/// resolution; convolutions have no bias (batch norm follows each).
let resnet20 =
    [ 3, 16, 32, 1; 16, 16, 32, 1; 16, 32, 32, 2; 32, 32, 16, 1; 32, 64, 16, 2; 64, 64, 8, 1 ]
    |> List.map (layer "resnet20" false)

/// VGG-16 for CIFAR: five blocks from 32x32 down to 2x2 (max pooling in between), convolutions with bias.
let vgg16 =
    [ 3, 64, 32, 1
      64, 64, 32, 1
      64, 128, 16, 1
      128, 128, 16, 1
      128, 256, 8, 1
      256, 256, 8, 1
      256, 512, 4, 1
      512, 512, 4, 1
      512, 512, 2, 1 ]
    |> List.map (layer "vgg16" true)

type Options =
    {
        Models: ModelSet
        Batch: int
        /// Only the first n layers of the chosen models, when Some n.
        ShapeLimit: int option
        Timing: Timing.Policy
    }

/// The full run: every layer of both models at the training batch size.
let defaults = { Models = All; Batch = 64; ShapeLimit = None; Timing = Timing.standard }

/// The demo: the first two ResNet-20 layers at batch 16, timed briefly.
let quick = { Models = ResNet20; Batch = 16; ShapeLimit = Some 2; Timing = Timing.quick }

/// The layers the options select, in model order.
let layers (options: Options) =
    let all =
        match options.Models with
        | ResNet20 -> resnet20
        | Vgg16 -> vgg16
        | All -> resnet20 @ vgg16
    match options.ShapeLimit with
    | Some n -> List.truncate n all
    | None -> all

/// Share of weights the sparse case keeps: the pruning level SeaM-style masks reach on these models.
let sparseDensity = 0.1

let peer = { Peers.Script = "conv_torch.py"; Peers.Packages = [ "python3-torch" ] }

/// Our seconds for one layer: plain and masked forward + backward, sparse and dense forward.
type private Times = { Dense: float; Masked: float; SparseForward: float; DenseForward: float; Density: float }

let private timeLayer (device: Device) (policy: Timing.Policy) (random: Random) (batch: int) (l: Layer) =
    let shape = Conv2dShape.Square(batch, l.InChannels, l.Size, l.OutChannels, 3, l.Stride, 1)
    // He initialisation, so activations and gradients keep a realistic scale (no denormals, no overflow).
    let weightScale = float32 (sqrt (2.0 / float shape.FilterLength))
    let weightHost = Data.normal random weightScale shape.WeightLength
    use x = Data.uploadNormal device random shape.InputLength
    use weight = Data.upload device weightHost
    // Normal scores keep about half of the weights, as a mask early in training does.
    use scores = Data.uploadNormal device random shape.WeightLength
    use bias: DeviceArray<float32> | null = if l.Bias then Data.uploadNormal device random l.OutChannels else null
    use gradOut = Data.uploadNormal device random shape.OutputLength
    use y = device.Allocate<float32> shape.OutputLength
    use gradInput = device.Allocate<float32> shape.InputLength
    use gradWeight = device.Allocate<float32> shape.WeightLength
    use gradScores = device.Allocate<float32> shape.WeightLength
    use gradBias: DeviceArray<float32> | null = if l.Bias then device.Allocate<float32> l.OutChannels else null
    let plain = LayerParameters(weight, Bias = bias)
    let masked = LayerParameters(weight, WeightScores = scores, Bias = bias)
    let plainGrads = LayerGradients(Input = gradInput, Weight = gradWeight, Bias = gradBias)
    let maskedGrads = LayerGradients(Input = gradInput, WeightScores = gradScores, Weight = gradWeight, Bias = gradBias)
    let step parameters grads () =
        Conv2d.Forward(shape, parameters, x, y)
        Conv2d.Backward(shape, parameters, x, gradOut, grads)
    use csr =
        CsrWeights.FromMasked(
            device,
            l.OutChannels,
            shape.FilterLength,
            ReadOnlySpan weightHost,
            ReadOnlySpan(Data.scoresWithDensity random sparseDensity shape.WeightLength)
        )
    { Dense = Timing.measureOn device policy (step plain plainGrads)
      Masked = Timing.measureOn device policy (step masked maskedGrads)
      SparseForward = Timing.measureOn device policy (fun () -> Sparse.Conv2dForward(shape, csr, bias, x, y))
      DenseForward = Timing.measureOn device policy (fun () -> Conv2d.Forward(shape, plain, x, y))
      Density = csr.Density }

/// The kernel a layer's measured rule picks from these times: the faster.
let private chosen (t: Times) = if t.SparseForward < t.DenseForward then "sparse" else "dense"

/// The peer's own command line: the batch, then one --layer per layer.
let private peerArgs (options: Options) (selected: Layer list) =
    [ "--batch"; string options.Batch ]
    @ (selected
       |> List.collect (fun l ->
           [ "--layer"
             l.Name
             string l.InChannels
             string l.OutChannels
             string l.Size
             string l.Stride
             (if l.Bias then "1" else "0") ]))

/// Times the selected layers on device, then runs the PyTorch peer on the same layers (after ours, so the two
/// never share the cores). Three cases per layer: "fwd+bwd" and "masked fwd+bwd" against torch,
/// "sparse 10% fwd" against our dense forward.
let run (device: Device) (options: Options) =
    let random = Random Data.seed
    let selected = layers options
    let ours =
        selected
        |> List.mapi (fun i l ->
            progress "conv" $"timing {l.Name} on {device.Name} ({i + 1}/{selected.Length})"
            l, timeLayer device options.Timing random options.Batch l)
    progress "conv" "timing the PyTorch peer"
    let outcome = Peers.runTimed peer options.Timing (peerArgs options selected)
    let torchCase = Peers.toCase "torch" outcome
    progress "conv" "timing the TorchSharp peer"
    let casesOf (l: Layer, t: Times) =
        let torchSharp =
            TorchSharpPeer.timeIfAvailable (fun () ->
                TorchSharpPeer.conv options.Timing options.Batch l.InChannels l.OutChannels l.Size l.Stride l.Bias)
        [ torchCase $"{l.Name} fwd+bwd" t.Dense
          TorchSharpPeer.case (Result.map fst torchSharp) $"{l.Name} fwd+bwd" t.Dense
          torchCase $"{l.Name} masked fwd+bwd" t.Masked
          TorchSharpPeer.case (Result.map snd torchSharp) $"{l.Name} masked fwd+bwd" t.Masked
          { Case = $"{l.Name} sparse {sparseDensity * 100.0:F0}%% fwd"
            OursS = t.SparseForward
            Peer = "hybrid dense"
            PeerS = Some t.DenseForward
            Note =
              Some
                  $"CSR keeps {t.Density * 100.0:F1}%% of the weights; a layer's measured rule (MaskableLayer.ChooseKernel) runs {chosen t} here" } ]
    { Benchmark = "conv"; Device = device.Name; Cores = cores (); Cases = List.collect casesOf ours }
