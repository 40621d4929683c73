/// `hybrid analyze-model` end to end on ResNet-20 and the first CIFAR-10 test images: the files it writes, its JSON
/// against PyTorch's predictions, index.html linking every picture, and one-line errors for bad input.
module Hybrid.Tests.AnalyzeModelCliTests

open System.IO
open Expecto

let private resnet20 () = sharedFile "models/cifar10-resnet20/model.safetensors"
let private cifar () = "cifar10:" + sharedFile "data/cifar10/test_batch.bin"
let private normalisation = [ "--mean"; "0.485,0.456,0.406"; "--std"; "0.229,0.224,0.225" ]

/// analyze-model on ResNet-20 with the flags given after the common ones.
let private analyze (out: string) (flags: string list) =
    CliTests.runCli ([ "analyze-model"; resnet20 (); "--dataset"; cifar (); "--out"; out ] @ normalisation @ flags)

/// A user error: exit code 1, one line on stderr naming the problem, no stack trace.
let private oneLineError (fragment: string) (code: int, _: string, err: string) =
    Expect.equal code 1 $"exit code (stderr: {err})"
    Expect.stringContains err fragment "names the problem"
    Expect.equal (err.TrimEnd().Split('\n').Length) 1 "one line"
    Expect.isFalse (err.Contains "   at ") "no stack trace"

[<Tests>]
let tests =
    testList
        "cli analyze-model"
        [ testInTempDir "every view on 200 images: PyTorch's matrix, the pictures and an index linking them"
          <| fun dir ->
              let out = Path.Combine(dir, "views")
              let flags =
                  [ "--count"
                    "200"
                    "--layer"
                    "layer3.2.conv2"
                    "--channels"
                    "0"
                    "5"
                    "--steps"
                    "8"
                    "--k"
                    "3"
                    "--json" ]
              let code, stdout, err = analyze out flags
              Expect.equal code 0 $"exit code (stderr: {err})"
              use json = parseJson stdout
              let root = json.RootElement
              Expect.equal (root.GetProperty("n").GetInt32()) 200 "n"
              let matrix =
                  [| for row in root.GetProperty("confusion").GetProperty("matrix").EnumerateArray() ->
                         [| for v in row.EnumerateArray() -> v.GetInt32() |] |]
              use fixture = SafetensorsFile.Open(sharedFile "fixtures/models/resnet20_reference.safetensors")
              let predicted, labels = fixture.ReadInt64 "pred_all", fixture.ReadInt64 "labels_all"
              let expected = Array.init 10 (fun _ -> Array.zeroCreate 10)
              for i in 0..199 do
                  expected[int labels[i]][int predicted[i]] <- expected[int labels[i]][int predicted[i]] + 1
              Expect.equal matrix expected "the matrix of PyTorch's predictions on the first 200 images"
              let files =
                  [ for s in root.GetProperty("confusion").GetProperty("sheets").EnumerateArray() -> s.GetString()
                    for m in root.GetProperty("maps").GetProperty("files").EnumerateArray() ->
                        m.GetProperty("file").GetString()
                    for m in root.GetProperty("maximised").EnumerateArray() -> m.GetProperty("file").GetString() ]
              Expect.contains files "maps/layer3.2.conv2-c5.png" "the map of channel 5"
              Expect.contains files "maximise/layer3.2.conv2-c0.png" "the maximised channel 0"
              let index = File.ReadAllText(Path.Combine(out, "index.html"))
              for f in files do
                  Expect.isTrue (File.Exists(Path.Combine(out, f))) $"{f} exists"
                  Expect.stringContains index $"\"{f}\"" $"index.html links {f}"
              Expect.isTrue (File.Exists(Path.Combine(out, "confusion.csv"))) "the CSV"
              // Progress goes to stderr, one line per tenth of each stage.
              Expect.stringContains err "confusion: 200 / 200" "progress of the confusion view"
          testInTempDir "the table output names each file"
          <| fun dir ->
              let code, stdout, err =
                  analyze dir [ "--count"; "20"; "--views"; "maps"; "--layer"; "layer1"; "--channels"; "3" ]
              Expect.equal code 0 $"exit code (stderr: {err})"
              Expect.stringContains stdout "maps/layer1-c3.png" "the map's file"
              Expect.stringContains stdout "layer1 (Sequential) on image 0" "the layer and the image"
          testInTempDir "an unknown layer path is one error line"
          <| fun dir ->
              analyze dir [ "--count"; "4"; "--views"; "maps"; "--layer"; "layer7" ]
              |> oneLineError "no module 'layer7' (top-level modules: conv1, bn1, layer1, layer2, layer3, linear)"
          testInTempDir "a channel out of range is one error line"
          <| fun dir ->
              analyze dir [ "--count"; "4"; "--views"; "maximise"; "--layer"; "conv1"; "--channels"; "16" ]
              |> oneLineError "channel 16 is out of range: conv1 has 16 channels"
          testInTempDir "a dataset that does not fit the model is one error line"
          <| fun dir ->
              CliTests.runCli (
                  [ "analyze-model"
                    resnet20 ()
                    "--dataset"
                    "random:4:1x28x28:1"
                    "--out"
                    dir
                    "--views"
                    "confusion" ]
              )
              |> oneLineError "model.safetensors: the model does not take the dataset's 1x28x28 images"
          testInTempDir "an unknown view is one error line"
          <| fun dir -> analyze dir [ "--views"; "confusion,saliency" ] |> oneLineError "unknown view 'saliency'" ]
