/// SeaM's defect-inheritance experiment: the transfer attack (PGD on the original's features), fine-tuning with masks
/// enforced, the defect rate, and `hybrid defects` end to end and on bad input.
module Hybrid.Tests.DefectsTests

open System.IO
open System.Text.Json
open Expecto
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Data
open Hybrid.Core.Nn.Formats
open Hybrid.Core.Nn.Modules
open Hybrid.Core.Nn.Zoo
open Hybrid.Analysis.Reengineering
open Hybrid.Analysis.Reengineering.Defects
open Hybrid.Tests.CliTests

/// A small CNN for 3-channel images, seeded, in evaluation mode's terms untrained.
let private smallCnn (classes: int) (seed: int64) =
    Zoo.Create("small-cnn", numClasses = classes, inChannels = 3, seed = seed)

/// Masks for every Conv2d and Linear of `model` by its state keys, removing about half the weights and biases (score
/// -1) at seeded places and keeping the rest (score 1).
let private halfMasks (model: Module) (seed: int64) =
    let random = Generator(seed)
    [ for path, layer in MaskedModel.maskableLayers model do
          for name, value in [ "weight", layer.Weight; "bias", layer.Bias ] do
              if not (isNull value) then
                  let scores = Array.init value.Numel (fun _ -> if random.NextDouble() < 0.5 then -1f else 1f)
                  $"{path}.{name}_mask", Tensor.Wrap(scores, value.Shape) ]
    |> readOnlyDict

/// Seeded images in [0, 1] with labels 0 .. classes-1.
let private images (n: int) (classes: int) (size: int) (seed: int64) =
    let random = Generator(seed)
    LabelledImages(
        Array.init (n * 3 * size * size) (fun _ -> float32 (random.NextDouble())),
        Array.init n (fun i -> int64 (i % classes)),
        n,
        3,
        size,
        size,
        [ for c in 0 .. classes - 1 -> string c ]
    )

let private attackTests =
    testList
        "attack"
        [ test "PGD stays within eps of the input and inside each channel's valid range, and lowers ReMos's distance" {
              let model = smallCnn 4 3L
              for p in model.Parameters() do
                  p.RequiresGrad <- false
              use _ = model.Eval()
              let _, classifier = classifierOf model
              let extract = TransferAttack.features model classifier
              let mean, std = Some [| 0.5f; 0.4f; 0.3f |], Some [| 0.2f; 0.25f; 0.3f |]
              let low, high = TransferAttack.bounds 3 mean std
              // Pixels 0 and 1 included, so that the range clips as well as the ball.
              let data = images 6 2 8 5L
              let pixels =
                  data.Images
                  |> Array.mapi (fun i v ->
                      if i % 7 = 0 then 0f
                      elif i % 11 = 0 then 1f
                      else v)
              let normalised = pixels |> Array.mapi (fun i v -> (v - mean.Value.[i / 64 % 3]) / std.Value.[i / 64 % 3])
              let x = Tensor.Wrap(normalised, [| 6; 3; 8; 8 |])
              let o = { TransferAttack.seam with Steps = 10 }
              let adversarial = (TransferAttack.attack o extract (low, high) (Generator 1L) x).ToArray<float32>()
              for i in 0 .. normalised.Length - 1 do
                  let c = i / 64 % 3
                  let a = adversarial.[i]
                  Expect.isLessThanOrEqual
                      (abs (a - normalised.[i]))
                      (float32 o.Epsilon + 1e-6f)
                      $"element {i}: |delta| <= eps"
                  Expect.isTrue (a >= low.[c] && a <= high.[c]) $"element {i}: {a} inside [{low.[c]}, {high.[c]}]"
              let distance (t: float32[]) =
                  use _ = Autograd.NoGrad()
                  let f = extract (Tensor.Wrap(t, [| 6; 3; 8; 8 |]))
                  TransferAttack.distance (f.ToArray<float32>()) (f.Size 1)
              let before, after = distance normalised, distance adversarial
              for i in 0..5 do
                  Expect.isLessThan after.[i] before.[i] $"sample {i}: the distance falls"
          }
          test "the input gradient through Conv2d, BatchNorm (evaluation mode) and pooling matches finite differences" {
              let model = smallCnn 4 7L
              for p in model.Parameters() do
                  p.RequiresGrad <- false
              use _ = model.Eval()
              let _, classifier = classifierOf model
              let data = (images 1 2 8 9L).Images
              let weights = Array.init 64 (fun j -> float32 (j % 5 - 2))
              // L(x) = sum_j w_j f_j(x): its gradient is the backward pass of w through the features.
              let value (x: float32[]) =
                  use _ = Autograd.NoGrad()
                  let f =
                      (TransferAttack.features model classifier (Tensor.Wrap(x, [| 1; 3; 8; 8 |]))).ToArray<float32>()
                  Array.fold2 (fun s a b -> s + float a * float b) 0.0 f weights
              let x = Tensor.Wrap(Array.copy data, [| 1; 3; 8; 8 |])
              x.RequiresGrad <- true
              let f = TransferAttack.features model classifier x
              f.Backward(Tensor.Wrap(weights, f.Shape))
              let grad = x.Grad.ToArray<float32>()
              let h = 1e-2f
              for i in [ 0; 17; 64; 101; 190 ] do
                  let shifted (d: float32) = data |> Array.mapi (fun k v -> if k = i then v + d else v)
                  let numeric = (value (shifted h) - value (shifted -h)) / (2.0 * float h)
                  // float32 forward passes: 1e-3 of rounding over a step of 1e-2 leaves about 1e-2 of noise.
                  Expect.floatClose { absolute = 2e-2; relative = 2e-2 } (float grad.[i]) numeric $"d L / d x[{i}]"
          } ]

let private fineTuningTests =
    testList
        "fine-tuning"
        [ test "masks enforced keep removed weights exactly zero; unenforced, they grow back" {
              let original = smallCnn 10 11L
              let masks = halfMasks original 12L
              let build () = smallCnn 3 13L
              let train = images 48 3 8 14L
              let o = { defaults with Epochs = 1; BatchSize = 16 }
              let tuned variant =
                  let model = prepare build original masks variant
                  fineTune Hybrid.Core.Gpu.Device.Cpu o model train ignore |> ignore
                  model
              let enforced, unenforced = tuned Enforced, tuned Unenforced
              let classifierPath, _ = classifierOf enforced
              let originalLayers = dict (MaskedModel.maskableLayers original)
              for path, layer in MaskedModel.maskableLayers enforced do
                  if path <> classifierPath then
                      let scores = masks.[$"{path}.weight_mask"].ToArray<float32>()
                      let weight = layer.Weight.ToArray<float32>()
                      let start = originalLayers.[path].Weight.ToArray<float32>()
                      for i in 0 .. weight.Length - 1 do
                          if scores.[i] <= 0f then
                              Expect.equal weight.[i] 0f $"{path}: removed weight {i} is zero"
                      Expect.isTrue
                          (Array.exists
                              (fun i -> scores.[i] > 0f && weight.[i] <> start.[i])
                              [| 0 .. weight.Length - 1 |])
                          $"{path}: kept weights were fine-tuned"
              let kept = nonzeroShare enforced
              Expect.isTrue (kept > 0.4 && kept < 0.6) $"about half the weights stay non-zero ({kept})"
              Expect.isGreaterThan (nonzeroShare unenforced) 0.9 "unenforced, removed weights train again"
          }
          test "the original keeps its weights but gets a fresh classifier for the target classes" {
              let original = smallCnn 10 21L
              let model = prepare (fun () -> smallCnn 3 22L) original (halfMasks original 23L) Standard
              let _, classifier = classifierOf model
              Expect.equal classifier.OutFeatures 3 "3 target classes"
              let state = dict [ for struct (k, v) in model.StateDict() -> k, v ]
              for struct (key, value) in original.StateDict() do
                  if not (key.StartsWith "classifier.") && value.Dtype = ScalarType.Float32 then
                      Expect.equal
                          (state.[key].ToArray<float32>())
                          (value.ToArray<float32>())
                          $"{key} copied from the original"
          } ]

let private rateTests =
    testList
        "defect rate"
        [ test "a hand-made case: 3 of 5 right, 2 of those flipped" {
              let labels = [| 0L; 1L; 2L; 0L; 1L |]
              let r = outcome labels [| 0; 1; 0; 0; 2 |] [| 1; 1; 2; 2; 2 |]
              Expect.equal (r.CleanCorrect, r.Flipped) (3, 2) "images 0, 1, 3 right; 0 and 3 flipped"
              Expect.floatClose Accuracy.veryHigh r.CleanAccuracy 0.6 "clean accuracy"
              Expect.floatClose Accuracy.veryHigh r.AdversarialAccuracy 0.4 "adversarial accuracy: images 1 and 2"
              Expect.floatClose Accuracy.veryHigh r.DefectRate.Value (2.0 / 3.0) "defect rate"
              Expect.isNone (outcome [| 1L |] [| 0 |] [| 1 |]).DefectRate "no clean-correct image: no rate"
              Expect.floatClose Accuracy.veryHigh (reduction (Some 0.5) (Some 0.2)).Value 0.6 "(0.5 - 0.2) / 0.5"
              Expect.isNone (reduction (Some 0.0) (Some 0.2)) "no reduction from a zero baseline"
          }
          test "masks that do not fit the model are named" {
              let model = smallCnn 10 31L
              let masks = halfMasks model 32L
              let without key =
                  readOnlyDict
                      [ for kv in masks do
                            if kv.Key <> key then
                                kv.Key, kv.Value ]
              let refused (fragment: string) m =
                  let e = throwsOf<InputException>(fun () -> checkMasks "masks.safetensors" m model)
                  Expect.stringContains e.Message fragment "names the problem"
              refused "no mask model.features.4.weight_mask" (without "features.4.weight_mask")
              refused
                  "model.features.0.weight_mask has shape [1, 2], the layer's tensor [16, 3, 3, 3]"
                  (readOnlyDict
                      [ for kv in masks ->
                            kv.Key,
                            (if kv.Key = "features.0.weight_mask" then
                                 Tensor.Wrap([| 1f; 1f |], [| 1; 2 |])
                             else
                                 kv.Value) ])
              refused
                  "model.extra.weight_mask belongs to no Conv2d or Linear"
                  (readOnlyDict
                      [ yield! [ for kv in masks -> kv.Key, kv.Value ]
                        "extra.weight_mask", Tensor.Wrap([| 1f |], [| 1 |]) ])
          } ]

/// A small-cnn "original" (3 channels, 10 classes) and a re-engineering folder with half-masks for it, as `hybrid
/// reengineer` writes them (keys model.*, metadata arch and target); returns the model file and the folder.
let private reengineered (dir: string) =
    let model = smallCnn 10 41L
    let original = Path.Combine(dir, "original.safetensors")
    StateDicts.SaveSafetensors(original, model.StateDict())
    let out = Path.Combine(dir, "re")
    Directory.CreateDirectory out |> ignore
    StateDicts.SaveSafetensors(
        Path.Combine(out, "masks.safetensors"),
        ResizeArray [ for kv in halfMasks model 42L -> struct ("model." + kv.Key, kv.Value) ],
        readOnlyDict [ "arch", "small-cnn"; "target", "T-shirt/top,rest"; "seed", "0" ]
    )
    original, out

/// A request on seeded grey images (count x 1 x size x size, padded to imageSize) that fine-tunes each model for one
/// epoch on trainCount of them and attacks testCount in `steps` PGD steps.
let private smallRequest original out (count, size, imageSize) (trainCount, testCount, batch) (steps: int) =
    ({ Original = original
       Arch = Some "small-cnn"
       Reengineered = out
       Dataset = $"random:{count}:1x{size}x{size}:3"
       TrainCount = trainCount
       TestCount = testCount
       ImageSize = imageSize
       FineTuning = { defaults with Epochs = 1; BatchSize = batch }
       Attack = { TransferAttack.seam with Steps = steps } }
    : Hybrid.Analysis.DefectsService.Request)

/// A request that runs in a second or two: 64 images to fine-tune on, 32 to attack in 3 PGD steps.
let private quickRequest original out = smallRequest original out (96, 28, 32) (64, 32, 16) 3

let private runQuick (request: Hybrid.Analysis.DefectsService.Request) =
    Hybrid.Analysis.DefectsService.run Hybrid.Core.Gpu.Device.Cpu request ignore

/// The same on the Reference backend, the plain loops every backend is checked against (the Cpu backend's
/// convolution is bit-reproducible too since its chunk sums merge in a fixed order; the reengineering tests
/// check that).
let private runExactly (request: Hybrid.Analysis.DefectsService.Request) =
    Hybrid.Analysis.DefectsService.run Hybrid.Core.Gpu.Device.Reference request ignore

let private serviceTests =
    testList
        "service"
        [ test "the same seed gives the same figures" {
              withTempDir (fun dir ->
                  let original, out = reengineered dir
                  // Everything but the seconds each epoch took.
                  let figures (r: Hybrid.Analysis.DefectsService.DefectsResult) =
                      [ for m in r.Models ->
                            m.Model,
                            m.CleanCorrect,
                            m.Flipped,
                            m.AdversarialAccuracy,
                            m.NonzeroWeights,
                            [ for e in m.Epochs -> e.Loss ] ]
                  // Smaller still: plain loops are slow.
                  let request = smallRequest original out (24, 8, 12) (16, 8, 8) 2
                  let first = runExactly request
                  Expect.equal (figures (runExactly request)) (figures first) "a second run"
                  Expect.equal first.Image [ 3; 12; 12 ] "grey 8x8 images fitted to 3x12x12")
          }
          test "bad input is refused, naming the file or flag and the problem" {
              withTempDir (fun dir ->
                  let original, out = reengineered dir
                  let request = quickRequest original out
                  let refused (fragment: string) (r: Hybrid.Analysis.DefectsService.Request) =
                      let e = throwsOf<InputException>(fun () -> runQuick r |> ignore)
                      Expect.stringContains e.Message fragment "names the problem"
                  refused "re-none: no such folder" { request with Reengineered = out + "-none" }
                  refused "masks.safetensors: missing" { request with Reengineered = dir }
                  let other = Path.Combine(dir, "other")
                  Directory.CreateDirectory other |> ignore
                  StateDicts.SaveSafetensors(
                      Path.Combine(other, "masks.safetensors"),
                      ResizeArray [ struct ("model.classifier.weight_mask", Tensor.Wrap([| 1f |], [| 1; 1 |])) ]
                  )
                  refused "the masks do not fit the original model" { request with Reengineered = other }
                  refused
                      "the masks were learnt for small-cnn"
                      { request with Arch = None; Original = sharedFile "models/cifar10-resnet20/model.safetensors" }
                  refused
                      "random:96:2x8x8: the images have 2 channels, the model takes 3"
                      { request with Dataset = "random:96:2x8x8" }
                  refused "the 28x28 images are larger than --image-size 16" { request with ImageSize = 16 }
                  refused "ask for more than the 96 images" { request with TrainCount = 90 }
                  refused
                      "--epochs 0 must be at least 1"
                      { request with FineTuning = { request.FineTuning with Epochs = 0 } })
          } ]

let private cliTests =
    testList
        "cli"
        [ test "hybrid defects --json fine-tunes and attacks on Fashion-MNIST by default" {
              withTempDir (fun dir ->
                  let original, out = reengineered dir
                  let code, json, err =
                      runCli
                          [ "defects"
                            "--original"
                            original
                            "--arch"
                            "small-cnn"
                            "--reengineered"
                            out
                            "--train-count"
                            "64"
                            "--test-count"
                            "32"
                            "--epochs"
                            "1"
                            "--steps"
                            "3"
                            "--batch"
                            "16"
                            "--json" ]
                  Expect.equal code 0 $"exit code (stderr: {err})"
                  Expect.stringContains err "defects: crafting adversarial images: 32 / 32" "progress on stderr"
                  use doc = JsonDocument.Parse json
                  let root = doc.RootElement
                  Expect.equal (root.GetProperty("dataset").GetString()) "fashion-mnist" "the default dataset"
                  Expect.equal (root.GetProperty("image").GetRawText()) "[3,32,32]" "grey 28x28 fitted to 3x32x32"
                  Expect.equal (root.GetProperty("target").GetString()) "T-shirt/top,rest" "target from the masks"
                  let models = root.GetProperty("models").EnumerateArray() |> Seq.toList
                  Expect.equal
                      [ for m in models -> m.GetProperty("model").GetString() ]
                      [ "original"; "reengineered-enforced"; "reengineered-unenforced" ]
                      "the three fine-tuned models"
                  for m in models do
                      let correct, flipped =
                          m.GetProperty("clean_correct").GetInt32(), m.GetProperty("flipped").GetInt32()
                      Expect.isTrue (flipped >= 0 && flipped <= correct && correct <= 32) (m.GetRawText())
                  let nonzero = models.[1].GetProperty("nonzero_weights").GetDouble()
                  Expect.isTrue
                      (nonzero > 0.4 && nonzero < 0.6)
                      $"enforced: about half the weights non-zero ({nonzero})")
          }
          test "bad input is one error line, exit code 1" {
              let code, stdout, err =
                  runCli [ "defects"; "--original"; "none.safetensors"; "--reengineered"; "no-such-folder" ]
              Expect.equal code 1 $"exit code (stderr: {err})"
              Expect.equal stdout "" "nothing on stdout"
              Expect.equal
                  (err.Trim())
                  "hybrid: error: no-such-folder: no such folder (give the --out folder of hybrid reengineer)"
                  "one line naming the folder"
          } ]

[<Tests>]
let tests = testList "defects" [ attackTests; fineTuningTests; rateTests; serviceTests; cliTests ]
