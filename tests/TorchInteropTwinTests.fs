/// The TorchSharp twin of every mirrored zoo architecture (CIFAR and torchvision ResNets, VGG, the small CNN, DenseNet-121,
/// MobileNetV3-Small, the MLP-Mixers): a checkpoint saved from the Core.Nn zoo model loads into the twin by PyTorch's
/// state keys, and the twin's logits equal Core.Nn's on the same weights and inputs; a tiny mixer's logits and input
/// gradient (libtorch's autograd through the twin) equal PyTorch's golden values.
module Hybrid.Tests.TorchInteropTwinTests

open System
open System.IO
open Expecto
open TorchSharp
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Modules
open Hybrid.Core.Nn.Zoo
open Hybrid.TorchInterop
open Hybrid.Tests.TorchInteropTests

/// Every state entry the zoo initialises to a constant made random, so that a mix-up of biases, affine norms, running
/// statistics or the zero-initialised mixer head shows in the logits: biases and running means N(0, 0.1^2), norm
/// weights N(1, 0.2^2), running variances U(0.5, 1.5), and an all-zero weight N(0, 1 / fan_in). Random conv and linear
/// weights keep the zoo's initialisation, which keeps activations of order one through the depth.
let private randomiseState (m: Module) =
    let g = Generator 17L
    use _ = Autograd.NoGrad()

    for struct (key, v) in m.StateDict() do
        if v.Dtype = ScalarType.Float32 then
            if key.EndsWith "running_var" then
                Init.Uniform(v, g, 0.5, 1.5) |> ignore
            elif key.EndsWith "running_mean" || key.EndsWith "bias" then
                Init.Normal(v, g, 0.0, 0.1) |> ignore
            elif v.Dim = 1 then
                Init.Normal(v, g, 1.0, 0.2) |> ignore
            elif v.ToArray<float32>() |> Array.forall ((=) 0f) then
                let struct (fanIn, _) = Init.Fans v
                Init.Normal(v, g, 0.0, 1.0 / sqrt (float fanIn)) |> ignore

let private keysAndShapes (keys: seq<string * int64[]>) = keys |> Seq.map (fun (k, s) -> k, List.ofArray s) |> Seq.sort

/// Each architecture the TorchSharp mirror covers, with a batch at a size it takes (the mixers only their own), small
/// enough for a quick forward.
let private twins =
    [ "cifar-resnet20", [| 2; 3; 32; 32 |]
      "cifar-resnet32", [| 2; 3; 32; 32 |]
      "cifar-vgg11-bn", [| 2; 3; 32; 32 |]
      "resnet18", [| 1; 3; 64; 64 |]
      "resnet50", [| 1; 3; 64; 64 |]
      "small-cnn", [| 2; 3; 28; 28 |]
      "densenet121", [| 2; 3; 64; 64 |]
      "mobilenet-v3-small", [| 2; 3; 64; 64 |]
      "mlp-mixer-cifar", [| 2; 3; 32; 32 |]
      "mlp-mixer-b16", [| 1; 3; 224; 224 |] ]

let private checkpointCase (name: string) (shape: int[]) =
    torchCase name
    <| fun () ->
        withTempDir (fun dir ->
            let core = Zoo.Create(name, seed = 3L)
            randomiseState core
            use _ = core.Eval()
            let path = Path.Combine(dir, "model.safetensors")
            Formats.StateDicts.SaveSafetensors(path, core.StateDict())

            let twin = Modules.mirror core
            Expect.sequenceEqual
                (keysAndShapes [ for kv in twin.state_dict () -> kv.Key, kv.Value.shape ])
                (keysAndShapes [ for struct (k, v) in core.StateDict() -> k, Array.map int64 v.Shape ])
                "state keys and shapes (TorchSharp lists parameters before buffers, hence sorted)"

            StateDicts.copyInto twin (Formats.StateDicts.Load path)
            twin.eval ()
            let x = Tensor.Wrap(randomNormal (Random 5) (Array.reduce (*) shape), shape)

            let expected =
                use _ = Autograd.NoGrad()
                core.Call(x).ToArray<float32>()

            let actual = (Engine.forward twin x).ToArray<float32>()
            // libtorch and Core.Nn sum in different orders, so float32 rounding differs in proportion to the activations:
            // up to 3.3e-6 abs where the logits are of order 1 to 10 (DenseNet-121, up to 5.6), but with random BatchNorm
            // statistics the deep ResNets' logits reach 1,357 (cifar-resnet32) and 336 (resnet50), where the worst
            // difference is 3.1e-4. Bounded by 1e-4 abs per unit of the largest logit (at least 1) + 1e-4 rel.
            let scale = max 1.0 (float (Array.max (Array.map abs expected)))
            closeTo (1e-4 * scale) 1e-4 $"{name} logits" expected actual
            Expect.isGreaterThan (Array.max (Array.map abs expected)) 0.1f "the logits are not trivially zero")

/// tests/golden/mixer.safetensors (make_mixer.py): a tiny mixer (5 classes, 3x8x8 images, 2x2 patches, dim 12, two
/// blocks) with random state, its input, PyTorch 1.13's logits in float64 and the gradient of sum(v * y) for the input.
let private goldenMixer () =
    use file = SafetensorsFile.Open(Path.Combine(repoRoot, "tests", "golden", "mixer.safetensors"))

    let read (name: string) = Tensor.From(file.ReadFloat64 name, file.Entry(name).Shape |> Array.map int)

    let twin = Modules.mirror (MlpMixer(5, 8, 2, 12, 2, 3))
    twin.``to`` (torch.ScalarType.Float64) |> ignore

    StateDicts.copyInto
        twin
        (readOnlyDict
            [ for e in file.Tensors do
                  if e.Name.StartsWith "state." then
                      e.Name.Substring 6, read e.Name ])

    twin.eval ()
    use x = (Tensors.toTorch (read "x")).requires_grad_ true
    use y = twin.call x
    use v = Tensors.toTorch (read "v")
    (y * v).sum().backward()
    // float64 on both sides: only the summation order differs (a few ulps), as in MixerTests' Core.Nn check.
    closeTo64 1e-10 1e-9 "logits" (file.ReadFloat64 "y") ((Tensors.ofTorch y).ToDoubleArray())
    closeTo64 1e-10 1e-9 "input gradient" (file.ReadFloat64 "gx") ((Tensors.ofTorch x.grad).ToDoubleArray())

[<Tests>]
let tests =
    testList
        "torchsharp twins"
        [ testList
              "a Core.Nn checkpoint loads into the twin, whose logits equal Core.Nn's"
              [ for name, shape in twins -> checkpointCase name shape ]
          torchCase "a tiny mixer twin: logits and input gradient equal PyTorch's (float64)" goldenMixer
          torchCase "a module type outside the zoo is refused by name"
          <| fun () ->
              let e = throwsOf<InputException>(fun () -> Modules.mirror (SiLU()) |> ignore)
              Expect.stringContains e.Message "SiLU" "names the type"
              Expect.stringContains e.Message "TorchSharp" "says what is missing" ]
