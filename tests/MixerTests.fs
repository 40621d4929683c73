/// MLP-Mixer in the zoo (timm's MlpMixer): state keys, shapes and module types as timm's code structure gives them,
/// Mixer-B/16's parameter count, a tiny mixer's logits and input gradient against PyTorch
/// (tests/golden/make_mixer.py), a gradient check, training steps, `hybrid train`, ONNX round trips through our
/// runtime, and the architecture found from a state by Networks.loadModule.
module Hybrid.Tests.MixerTests

open System.IO
open Expecto
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Data
open Hybrid.Core.Nn.Formats.Onnx.Reader
open Hybrid.Core.Nn.Modules
open Hybrid.Core.Nn.Optim
open Hybrid.Core.Nn.Zoo
open Hybrid.Analysis

/// A mixer's sizes as timm's MlpMixer arguments name them.
type private Size = { Classes: int; InChans: int; ImgSize: int; PatchSize: int; EmbedDim: int; NumBlocks: int }

let private b16 = { Classes = 1000; InChans = 3; ImgSize = 224; PatchSize = 16; EmbedDim = 768; NumBlocks = 12 }
let private cifar = { Classes = 10; InChans = 3; ImgSize = 32; PatchSize = 4; EmbedDim = 128; NumBlocks = 4 }

/// timm's named_modules, read off its code: MlpMixer(stem, blocks, norm, head_drop, head), PatchEmbed(proj, norm),
/// MixerBlock(norm1, mlp_tokens, drop_path, norm2, mlp_channels), Mlp(fc1, act, drop1, norm, fc2, drop2); with each
/// module its state in registration order. Token MLP: patches -> dim / 2 -> patches; channel MLP: dim -> 4 dim -> dim.
let private timmModules (s: Size) =
    let patches = (s.ImgSize / s.PatchSize) * (s.ImgSize / s.PatchSize)
    let d = s.EmbedDim
    let linear path o i = path, "Linear", [ "weight", [ o; i ]; "bias", [ o ] ]
    let layerNorm path = path, "LayerNorm", [ "weight", [ d ]; "bias", [ d ] ]
    let mlp path width hidden =
        [ path, "Mlp", []
          linear (path + ".fc1") hidden width
          path + ".act", "GELU", []
          path + ".drop1", "Dropout", []
          path + ".norm", "Identity", []
          linear (path + ".fc2") width hidden
          path + ".drop2", "Dropout", [] ]
    [ "", "MlpMixer", []
      "stem", "PatchEmbed", []
      "stem.proj", "Conv2d", [ "weight", [ d; s.InChans; s.PatchSize; s.PatchSize ]; "bias", [ d ] ]
      "stem.norm", "Identity", []
      "blocks", "Sequential", []
      for b in 0 .. s.NumBlocks - 1 do
          let p = $"blocks.{b}"
          p, "MixerBlock", []
          layerNorm (p + ".norm1")
          yield! mlp (p + ".mlp_tokens") patches (d / 2)
          p + ".drop_path", "Identity", []
          layerNorm (p + ".norm2")
          yield! mlp (p + ".mlp_channels") d (4 * d)
      layerNorm "norm"
      "head_drop", "Dropout", []
      linear "head" s.Classes d ]

let private timmState (s: Size) =
    [ for path, _, state in timmModules s do
          for name, shape in state -> (if path = "" then name else path + "." + name), shape ]

let private stateOf (m: Module) = [ for struct (key, value) in m.StateDict() -> key, List.ofArray value.Shape ]

let private b16Model = lazy (Zoo.Create "mlp-mixer-b16")

let private structureTests =
    testList
        "structure"
        [ test "mlp-mixer-b16: every state key and shape equals timm's mixer_b16_224, in order" {
              let expected = timmState b16
              Expect.equal expected.Length (2 + 12 * 12 + 2 + 2) "timm: stem 2, 12 per block, norm 2, head 2"
              Expect.sequenceEqual (stateOf b16Model.Value) expected "keys and shapes"
          }
          test "mlp-mixer-b16 has timm's 59,880,472 parameters" {
              // timm's mixer_b16_224 card lists 59.9M; the exact figure is the sum over the shapes above: stem 590,592,
              // 12 blocks of 4,876,612 (norms 3,072, token MLP 151,108, channel MLP 4,722,432), norm 1,536, head 769,000.
              let fromShapes = timmState b16 |> List.sumBy (fun (_, shape) -> List.fold (*) 1 shape |> int64)
              Expect.equal fromShapes 59_880_472L "timm's structure"
              Expect.equal (b16Model.Value.ParameterCount()) 59_880_472L "ours"
          }
          test "mlp-mixer-cifar: keys, shapes and module types equal timm's MlpMixer at its sizes" {
              let model = Zoo.Create "mlp-mixer-cifar"
              Expect.sequenceEqual (stateOf model) (timmState cifar) "keys and shapes"
              Expect.sequenceEqual
                  [ for struct (path, m) in model.NamedModules() -> path, m.TypeName ]
                  [ for path, typeName, _ in timmModules cifar -> path, typeName ]
                  "named_modules and their types"
              Expect.equal (model.ParameterCount()) 569_994L "about 0.57M parameters"
          }
          test "every weighted layer is a plain Conv2d or Linear module, where re-engineering looks for them" {
              let model = Zoo.Create "mlp-mixer-cifar"
              let weighted =
                  [ for struct (path, m) in model.NamedModules() do
                        match m with
                        | :? Conv2d -> path, "Conv2d"
                        | :? Linear -> path, "Linear"
                        | _ -> () ]
              Expect.equal weighted.Length (1 + 4 * cifar.NumBlocks + 1) "stem, four per block, head"
              Expect.equal
                  (model.Parameters() |> Seq.sumBy (fun p -> int64 p.Numel))
                  (model.NamedModules()
                   |> Seq.sumBy (fun struct (_, m) ->
                       match m with
                       | :? Conv2d
                       | :? Linear
                       | :? LayerNorm -> m.ParameterCount()
                       | _ -> 0L))
                  "no parameter outside Conv2d, Linear and LayerNorm"
          }
          test "initialised as timm: zero head, LayerNorms at 1 and 0, tiny MLP biases, Xavier and LeCun bounds" {
              let model = Zoo.Create("mlp-mixer-cifar", seed = 3L)
              let state = dict [ for struct (k, v) in model.StateDict() -> k, v.ToDoubleArray() ]
              Expect.allEqual state.["head.weight"] 0.0 "head weight"
              Expect.allEqual state.["head.bias"] 0.0 "head bias"
              Expect.allEqual state.["blocks.0.norm1.weight"] 1.0 "norm weight"
              Expect.allEqual state.["blocks.3.norm2.bias"] 0.0 "norm bias"
              Expect.isTrue
                  (state.["blocks.1.mlp_tokens.fc1.bias"] |> Array.forall (fun b -> abs b < 1e-5))
                  "N(0, 1e-6)"
              Expect.isTrue (state.["blocks.1.mlp_tokens.fc1.bias"] |> Array.exists (fun b -> b <> 0.0)) "not zero"
              let xavier = sqrt (6.0 / float (128 + 512))
              Expect.isTrue
                  (state.["blocks.2.mlp_channels.fc1.weight"] |> Array.forall (fun w -> abs w <= xavier))
                  "Xavier-uniform bound"
              // LeCun normal, truncated at two standard deviations of sqrt(1 / fan_in) / 0.8796.
              let lecun = 2.0 * sqrt (1.0 / 48.0) / 0.87962566103423978
              let stem = state.["stem.proj.weight"]
              Expect.isTrue (stem |> Array.forall (fun w -> abs w <= lecun)) "truncated"
              let std = sqrt (Array.averageBy (fun w -> w * w) stem)
              Expect.floatClose { absolute = 0.01; relative = 0.0 } std (sqrt (1.0 / 48.0)) "variance 1 / fan_in"
          }
          test "zoo:mlp-mixer-cifar extracts as an abstract architecture, traced at the 32x32 images it takes" {
              let a = (Extract.fromPath "zoo:mlp-mixer-cifar").Head
              Expect.equal (a.Hierarchy |> Seq.filter (fun m -> m.Type = "MixerBlock") |> Seq.length) 4 "four blocks"
              Expect.equal a.ParameterCount 569_994L "every parameter"
          }
          test "an image of another size is refused naming both sizes" {
              let model = Zoo.Create "mlp-mixer-cifar"
              rejects "(N, 3, 32, 32)" (fun () -> model.Call(Tensor.Zeros(1, 3, 28, 28)))
              rejects "must divide" (fun () -> MlpMixer(10, 30, 4, 16, 1))
          } ]

/// tests/golden/mixer.safetensors: a tiny mixer (5 classes, 3x8x8 images, 2x2 patches, dim 12, two blocks) in PyTorch.
let private golden = Path.Combine(repoRoot, "tests", "golden", "mixer.safetensors")

let private goldenTests =
    testList
        "against PyTorch"
        [ for dtype, absTol, relTol in [ ScalarType.Float64, 1e-10, 1e-9; ScalarType.Float32, 1e-5, 1e-4 ] ->
              // float64: only summation order differs from PyTorch's (a few ulps). float32: the state and input are
              // rounded to float32 (6e-8 relative), then float32 arithmetic through two blocks.
              test $"a tiny mixer's logits and input gradient ({dtype})" {
                  use file = SafetensorsFile.Open golden
                  let read (name: string) =
                      Tensor.From(file.ReadFloat64 name, file.Entry(name).Shape |> Array.map int).To dtype
                  let model = MlpMixer(5, 8, 2, 12, 2, 3)
                  model.To dtype |> ignore
                  let state =
                      readOnlyDict
                          [ for e in file.Tensors do
                                if e.Name.StartsWith "state." then
                                    e.Name.Substring 6, read e.Name ]
                  model.LoadStateDict state |> ignore
                  let x = read "x"
                  x.RequiresGrad <- true
                  use _ = model.Eval()
                  let y = model.Call x
                  y.Backward(read "v")
                  closeTo64 absTol relTol "logits" (file.ReadFloat64 "y") (y.ToDoubleArray())
                  closeTo64 absTol relTol "input gradient" (file.ReadFloat64 "gx") (x.Grad.ToDoubleArray())
              } ]

/// A mixer small enough for finite differences (2 classes, 2x4x4 images, 2x2 patches, dim 4, one block: 227 parameters)
/// with every parameter random, the head's included (timm's zero head would make every other gradient zero).
let private tinyMixer () =
    let model = MlpMixer(2, 4, 2, 4, 1, 2, Generator(5L))
    model.To ScalarType.Float64 |> ignore
    let g = Generator(6L)
    for p in model.Parameters() do
        Init.Normal(p, g, 0.0, 0.7) |> ignore
    model

let private trainingTests =
    testList
        "training"
        [ test "gradients of the input and every parameter match finite differences" {
              let model = tinyMixer ()
              use _ = model.Eval()
              let x = Generator(7L).Normal(0.0, 1.0, ScalarType.Float64, 3, 2, 4, 4)
              x.RequiresGrad <- true
              // GradCheck's defaults (1e-6 abs + 1e-4 rel, central differences with eps 1e-6 in float64).
              let result =
                  GradCheck.Run((fun xs -> model.Call xs.[0]), Array.append [| x |] (Array.ofSeq (model.Parameters())))
              Expect.isTrue result.Passed $"max error {result.MaxAbsError}; {result.Worst}"
          }
          test "a few SGD steps on one batch lower the loss of mlp-mixer-cifar" {
              let model = Zoo.Create("mlp-mixer-cifar", seed = 1L)
              let g = Generator(2L)
              let x = g.Normal(0.0, 1.0, ScalarType.Float32, 8, 3, 32, 32)
              let y = Tensor.From(Array.init 8 (fun i -> int64 (i % 10)), [| 8 |])
              let optimizer = SGD(model.Parameters(), 0.05, momentum = 0.9)
              use _ = model.Train()
              let losses =
                  [ for _ in 1..6 ->
                        let loss = Functional.CrossEntropy(model.Call x, y)
                        optimizer.ZeroGrad()
                        loss.Backward()
                        optimizer.Step()
                        loss.Item() ]
              // The zero head starts every logit at 0: the first loss is ln 10.
              Expect.floatClose Accuracy.medium losses.Head (log 10.0) "ln 10 at the start"
              Expect.isTrue
                  (List.pairwise losses |> List.forall (fun (a, b) -> b < a))
                  $"the loss falls at every step: {losses}"
              Expect.isLessThan (List.last losses) (0.95 * losses.Head) $"by 5%% or more over six steps: {losses}"
          }
          test
              "hybrid train --arch mlp-mixer-cifar writes a model that loadModule finds; 28x28 images are refused first" {
              withTempDir (fun dir ->
                  let out = Path.Combine(dir, "mixer.safetensors")
                  let code, _, err =
                      NnTrainingTests.runTrain "mlp-mixer-cifar" "random:32:3x32x32:4" out [ "--lr"; "0.01" ]
                  Expect.equal code 0 $"exit code (stderr: {err})"
                  let name, model = Networks.loadModule Device.Cpu out None
                  Expect.equal name "mlp-mixer-cifar" "the fit search finds the mixer"
                  Expect.equal (model.ParameterCount()) 569_994L "and builds it"
                  // The CLI prints an InputException as its one error line (CliTests); the message is checked here.
                  let fashion = DatasetSpec.Load "random:8:1x28x28"
                  let refused = Path.Combine(dir, "refused.safetensors")
                  let e =
                      throwsOf<InputException>(fun () ->
                          Training.train
                              Device.Cpu
                              (Training.defaults "mlp-mixer-cifar")
                              fashion
                              None
                              refused
                              false
                              ignore
                          |> ignore)
                  Expect.stringContains
                      e.Message
                      "mlp-mixer-cifar cannot take the dataset's 1x28x28 images"
                      "names both"
                  Expect.stringContains e.Message "(N, 1, 32, 32)" "and the size the mixer takes"
                  Expect.isFalse (File.Exists(Training.checkpointPath refused)) "before any training")
          } ]

let private onnxTest =
    // That the exports compute what the module does, in our runtime and in ONNX Runtime, is checked with the other zoo
    // models (OnnxRuntimeTests, OnnxRuntimePeerTests); here, which form LayerNorm takes.
    test "ONNX export: LayerNormalization nodes from opset 17, the decomposition before" {
        withTempDir (fun dir ->
            for opset in [ 13; 17 ] do
                let path, _, _ = OnnxRuntimeTests.exportZooModel dir "mlp-mixer-cifar" 32 3 opset
                let ops = (OnnxModel.Load path).Nodes |> Seq.countBy _.OpType |> Map.ofSeq
                let count op = ops.TryFind op |> Option.defaultValue 0
                let layerNorms = 2 * cifar.NumBlocks + 1
                Expect.equal (count "LayerNormalization") (if opset = 17 then layerNorms else 0) $"opset {opset}"
                Expect.equal
                    (count "Sqrt")
                    (if opset = 17 then 0 else layerNorms)
                    $"opset {opset}: one Sqrt per LayerNorm")
    }

[<Tests>]
let tests = testList "mlp-mixer" [ structureTests; goldenTests; trainingTests; onnxTest ]
