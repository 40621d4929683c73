/// One model, one graph: a checkpoint whose tensor names and shapes fit a zoo architecture is extracted as that
/// architecture's traced graph, so one model written as .safetensors, .pt and .onnx gives the same n-gram features
/// (2-, 3- and 1-grams with parameters; an ONNX file records no inner output shapes) and one deduplication group; the zoo match is derived from the names and shapes (ZooMatch), not by trial loading.
module Hybrid.Tests.OneGraphTests

open System.IO
open Expecto
open Hybrid.Core.Nn.Zoo
open Hybrid.Analysis
open Hybrid.Analysis.Naming

let private termSet (a: Architecture.Architecture) =
    NGrams.terms { NGrams.defaults with Trigrams = true } a |> Seq.map (fun kv -> kv.Key, kv.Value) |> Set.ofSeq

[<Tests>]
let tests =
    testList
        "one model, one graph"
        [ testInTempDir "small-cnn as .safetensors, .pt and .onnx: the same n-grams and one dedup group" (fun dir ->
              let model = Zoo.Create("small-cnn", numClasses = 10, inChannels = 1, seed = 3L)
              let files = [ "m.safetensors"; "m.pt"; "m.onnx" ] |> List.map (fun f -> Path.Combine(dir, f))
              for f in files do
                  Training.save model [| 1; 28; 28 |] (readOnlyDict []) f
              let archs = files |> List.map (Extract.fromPath >> List.exactlyOne)
              let first = termSet archs.Head
              for f, a in List.zip files archs do
                  let own = termSet a
                  let differing = Set.difference own first + Set.difference first own
                  Expect.equal
                      (List.ofSeq differing)
                      []
                      $"{Path.GetFileName f}: n-grams other than the .safetensors file's"
                  Expect.equal a.Nodes.Length archs.Head.Nodes.Length $"{Path.GetFileName f}: node count"
                  Expect.equal a.Edges.Length archs.Head.Edges.Length $"{Path.GetFileName f}: edge count"
              let checkpoint = archs.Head
              Expect.equal checkpoint.Format "safetensors" "the file's own format is kept"
              Expect.isTrue
                  (checkpoint.Nodes |> Array.exists (fun n -> n.LayerType = "ReLU"))
                  "the traced graph has the ReLUs that no tensor names"
              use c = Catalog.openOrCreate (Path.Combine(dir, "t.db"))
              for f, a in List.zip files archs do
                  Catalog.insert c { ModelSource.Path = f; ModelSource.Hash = f } None a |> ignore
              let result = Dedup.run c "architecture" DedupService.DefaultThreshold
              Expect.equal result.Groups.Length 1 "one group"
              Expect.equal result.Groups.Head.Members.Length 3 "all three files in it")
          test "every zoo image architecture has a rank-4 weight, so a checkpoint without one builds no zoo model" {
              for name in Zoo.ImageNames do
                  let state = (Zoo.Create name).StateDict()
                  Expect.isTrue
                      (state |> Seq.exists (fun struct (k, t) -> k.EndsWith "weight" && t.Dim = 4))
                      $"{name} has a convolution weight"
          }
          test "a checkpoint matches the zoo architecture of its keys and shapes, at its class and channel counts" {
              let model = Zoo.Create("cifar-resnet20", numClasses = 7, inChannels = 1)
              let tensors = [ for struct (k, t) in model.StateDict() -> k, Array.map int64 t.Shape ]
              let fit = (ZooMatch.find tensors).Value
              let name = fit.Name
              Expect.equal name "cifar-resnet20" "the architecture"
              Expect.equal
                  [ for struct (k, t) in fit.Create().StateDict() -> k, Array.map int64 t.Shape ]
                  tensors
                  "built at the file's sizes"
              let older = tensors |> List.filter (fun (k, _) -> not (k.EndsWith "num_batches_tracked"))
              Expect.equal (ZooMatch.find older |> Option.map _.Name) (Some name) "without BatchNorm's counter"
              let widened =
                  tensors |> List.map (fun (k, s) -> if k = "conv1.weight" then k, [| 17L; 1L; 3L; 3L |] else k, s)
              Expect.isNone (ZooMatch.find widened) "a shape the architecture does not have"
              Expect.isNone (ZooMatch.find [ "encoder.weight", [| 8L; 8L |] ]) "no convolution"
          } ]
