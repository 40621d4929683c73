/// Training end to end: a zoo model learns, checkpoints after every epoch, resumes exactly where it stopped, and the
/// `hybrid train` command reports progress and fails cleanly on bad input.
module Hybrid.Tests.NnTrainingTests

open System.IO
open Expecto
open Hybrid.Core.Nn.Data
open Hybrid.Analysis

/// Interrupts training from the progress callback, as a crash or Ctrl-C would.
exception private Interrupted

let private options = { Training.defaults "small-cnn" with Epochs = 2; BatchSize = 32; LearningRate = 0.05; Seed = 7L }

/// 256 seeded noise images, half of them (label 1) with the left half brightened: a clear, learnable signal.
let private dataset =
    lazy
        (let noise = DatasetSpec.Load "random:256:1x16x16:3"
         let labels = Array.init noise.Count (fun i -> int64 (i % 2))
         let images = Array.copy noise.Images
         for i in 0 .. noise.Count - 1 do
             if labels.[i] = 1L then
                 for r in 0..15 do
                     for c in 0..7 do
                         images.[i * noise.ImageSize + r * 16 + c] <- images.[i * noise.ImageSize + r * 16 + c] + 1.0f
         LabelledImages(
             images,
             labels,
             noise.Count,
             noise.Channels,
             noise.Height,
             noise.Width,
             [| "plain"; "bright left" |]
         ))

let private weights (path: string) =
    Hybrid.Core.Nn.Formats.StateDicts.Load path |> Seq.map (fun kv -> kv.Key, kv.Value.ToDoubleArray()) |> Map.ofSeq

/// The arguments of `hybrid train --arch ARCH --dataset SPEC --out OUT` on the cpu, one epoch in batches of 16,
/// then the extra flags.
let private trainArgs (arch: string) (dataset: string) (out: string) (extra: string list) =
    [ "train"; "--arch"; arch; "--dataset"; dataset; "--epochs"; "1"; "--batch"; "16"; "--out"; out; "--device"; "cpu" ]
    @ extra

/// Runs `hybrid train` with `trainArgs`.
let runTrain (arch: string) (dataset: string) (out: string) (extra: string list) =
    CliTests.runCli (trainArgs arch dataset out extra)

[<Tests>]
let tests =
    testList
        "training"
        [ testWithTempFile
              "small-cnn learns a brightness rule and writes model and checkpoint"
              "model.safetensors"
              (fun out ->
                  // Four epochs, so that BatchNorm's running statistics (momentum 0.1) have settled for evaluation.
                  let _, epochs =
                      Training.train
                          Device.Cpu
                          { options with Epochs = 4 }
                          dataset.Value
                          (Some dataset.Value)
                          out
                          false
                          ignore
                  Expect.equal epochs.Length 4 "four epochs"
                  let last = List.last epochs
                  // Chance is 0.5; the brightened half is visible to every filter, so 32 steps get far above it.
                  Expect.isGreaterThan last.TestAccuracy.Value 0.8 "accuracy on the training images"
                  Expect.isLessThan last.Loss epochs.Head.Loss "the loss falls"
                  Expect.isTrue (File.Exists out) "model written"
                  Expect.isTrue (File.Exists(Training.checkpointPath out)) "checkpoint written")
          testInTempDir
              "training interrupted after epoch 1 and resumed ends with the weights of an uninterrupted run"
              (fun dir ->
                  let straight = Path.Combine(dir, "straight.safetensors")
                  Training.train Device.Cpu options dataset.Value None straight false ignore |> ignore
                  let resumed = Path.Combine(dir, "resumed.safetensors")
                  let stopAfterFirst (p: Training.Progress) =
                      match p with
                      | Training.EpochDone r when r.Epoch = 0 -> raise Interrupted
                      | _ -> ()
                  Expect.throwsT<Interrupted>
                      (fun () ->
                          Training.train Device.Cpu options dataset.Value None resumed false stopAfterFirst |> ignore)
                      "interrupted"
                  Expect.isFalse (File.Exists resumed) "no model yet"
                  let mutable resumedFrom = -1
                  let note (p: Training.Progress) =
                      match p with
                      | Training.Resumed e -> resumedFrom <- e
                      | _ -> ()
                  let _, epochs = Training.train Device.Cpu options dataset.Value None resumed true note
                  Expect.equal resumedFrom 1 "resumed after one epoch"
                  Expect.equal (epochs |> List.map _.Epoch) [ 1 ] "ran only the second epoch"
                  let a, b = weights straight, weights resumed
                  Expect.sequenceEqual (Map.keys b) (Map.keys a) "same keys"
                  for KeyValue(k, v) in a do
                      // Same seed, same batches, same optimiser state: the arithmetic is identical, so the weights are equal.
                      Expect.sequenceEqual b.[k] v $"{k} equal")
          testWithTempFile "resuming with other options is refused, naming the checkpoint" "m.safetensors" (fun out ->
              Training.train Device.Cpu { options with Epochs = 1 } dataset.Value None out false ignore |> ignore
              let e =
                  throwsOf<InputException>(fun () ->
                      Training.train
                          Device.Cpu
                          { options with Epochs = 1; LearningRate = 0.1 }
                          dataset.Value
                          None
                          out
                          true
                          ignore
                      |> ignore)
              Expect.stringContains e.Message (Training.checkpointPath out) "names the checkpoint")
          testInTempDir "the model saves as .pt and .onnx and each loads back with the same predictions" (fun dir ->
              let out = Path.Combine(dir, "m.safetensors")
              let model, _ = Training.train Device.Cpu { options with Epochs = 1 } dataset.Value None out false ignore
              let predictions path =
                  let network = Networks.load Device.Cpu path None
                  (Networks.evaluate (Networks.pass Device.Cpu network dataset.Value 64)).Predictions
              let expected = predictions out
              for name in [ "m.pt"; "m.onnx" ] do
                  let path = Path.Combine(dir, name)
                  Training.save model [| 1; 16; 16 |] (readOnlyDict []) path
                  Expect.sequenceEqual (predictions path) expected $"{name} predicts as the safetensors file")
          testInTempDir
              "training on 1, 2 and 5 cores gives the same weights to the bit (gradient sums in a fixed order)"
              (fun dir ->
                  let withCores (cores: int) = [ "DOTNET_PROCESSOR_COUNT", string cores ]
                  // The child really sees the core count it is given (else the comparison below could not fail).
                  for cores in [ 1; 5 ] do
                      let code, stdout, err =
                          CliTests.runCliWith (withCores cores) 120 [ "selfcheck"; "--device"; "cpu"; "--count"; "1" ]
                      Expect.equal code 0 $"selfcheck exit code (stderr: {err})"
                      Expect.stringContains stdout $"{cores} cores" "the child's core count"
                  let bits (path: string) =
                      weights path |> Map.map (fun _ v -> v |> Array.map System.BitConverter.DoubleToInt64Bits)
                  // ResNet-20 runs the Winograd and narrow kernels and BatchNorm; the VGG's 256- and 512-channel layers
                  // on 4x4 and 2x2 images run im2col GEMMs; both end in a linear layer.
                  for arch in [ "cifar-resnet20"; "cifar-vgg11-bn" ] do
                      let train (cores: int) =
                          let out = Path.Combine(dir, $"{arch}-{cores}.safetensors")
                          let code, _, err =
                              CliTests.runCliWith (withCores cores) 300 (trainArgs arch "random:48:3x32x32:5" out [])
                          Expect.equal code 0 $"{arch} on {cores} cores: exit code (stderr: {err})"
                          bits out
                      let one = train 1
                      for cores in [ 2; 5 ] do
                          let other = train cores
                          Expect.sequenceEqual (Map.keys other) (Map.keys one) "same keys"
                          for KeyValue(k, v) in one do
                              Expect.sequenceEqual other.[k] v $"{arch} {k}: 1 and {cores} cores")
          testWithTempFile
              "hybrid train --json runs, writes the model; a bad architecture is one error line"
              "cli.safetensors"
              (fun out ->
                  let code, stdout, err = runTrain "small-cnn" "random:64:1x16x16:2" out [ "--json" ]
                  Expect.equal code 0 $"exit code (stderr: {err})"
                  use doc = parseJson stdout
                  Expect.equal (doc.RootElement.GetProperty("epochs").GetArrayLength()) 1 "one epoch reported"
                  Expect.isTrue (File.Exists out) "model written"
                  let code, _, err =
                      CliTests.runCli [ "train"; "--arch"; "resnet1000"; "--dataset"; "random:8:1x8x8"; "--out"; out ]
                  Expect.equal code 1 "exit code"
                  Expect.equal (err.Trim().Split('\n').Length) 1 "one line"
                  Expect.stringContains err "unknown image architecture 'resnet1000'" "names the architecture") ]
