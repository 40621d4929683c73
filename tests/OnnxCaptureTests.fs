/// Activation capture and the CKA index on ONNX graphs: the published ResNet-20 graph (../shared/models; the exporter
/// folded each BatchNorm into the convolution before it) indexed on the first 100 CIFAR-10 test images gives, at the
/// nodes that compute PyTorch's stage outputs, the linear CKA of PyTorch's own activations
/// (resnet20_reference.safetensors) within 1e-5, and CKA 1 within 1e-5 with the same weights' safetensors capture at
/// every tensor both compute; capture in batches over several passes equals capture in one run; nodes are selected by
/// name or op type; an unknown operator and a corrupt file are one-line errors naming the file.
module Hybrid.Tests.OnnxCaptureTests

open System
open System.IO
open Expecto
open Hybrid.Analysis
open Hybrid.Core.Nn.Formats.Onnx.Reader
open Hybrid.Core.Nn.Formats.Onnx.Runtime
open Hybrid.Tests.CkaIndexTests

let private onnxFile = lazy (sharedFile "models/cifar10-resnet20/model.onnx")
let private graph = lazy (OnnxModel.Load onnxFile.Value)

let private model (name: string) (path: string) =
    { LayerIndex.ModelToIndex.Path = path
      LayerIndex.ModelToIndex.Name = name
      LayerIndex.ModelToIndex.Version = "1"
      LayerIndex.ModelToIndex.Arch = None
      LayerIndex.ModelToIndex.Accuracy = None
      LayerIndex.ModelToIndex.TrainedOn = None }

/// ResNet-20 indexed twice on the first 100 test images, every layer: "onnx" from model.onnx and "safetensors" from
/// model.safetensors, in a catalog whose folder is removed when the tests exit.
let private indexed =
    lazy
        (let dir = Directory.CreateTempSubdirectory("hybrid-onnx-capture-").FullName
         AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> Directory.Delete(dir, true))
         let db = Path.Combine(dir, "hybrid.db")
         let probe = ProbeSet.load cifar.Value 0 100 (Some mean) (Some std)
         let models =
             [ model "onnx" onnxFile.Value
               model "safetensors" (sharedFile "models/cifar10-resnet20/model.safetensors") ]
         let result = LayerIndex.run Device.Cpu db probe LayerCapture.everyLayer models (fun _ _ _ -> ())
         db, result)

let private layersOf (name: string) =
    let db, result = indexed.Value
    stored db result.Probe.Id |> List.filter (fun (l, _) -> l.Model = name)

/// The stored ONNX layer whose output is module path's: the last node inside the module's scope, which the exporter
/// writes into node names (/layer1/layer1.2/Relu_1 is in the scopes layer1.2 and layer1): a block or stage ends with
/// its last ReLU, the classifier with its Gemm.
let private nodeOfModule (path: string) =
    let inside (node: OnnxNode) =
        let scope = FromOnnx.modulePath node.Name
        scope = path || scope.StartsWith(path + ".")
    let node = graph.Value.Nodes |> Seq.filter inside |> Seq.last
    OnnxCapture.layerName node.Name

let private encodingOf (name: string) (layer: string) =
    match layersOf name |> List.tryFind (fun (l, _) -> l.Layer = layer) with
    | Some(_, e) -> e
    | None -> failtestf "%s has no stored layer %s" name layer

let private stages = [ "layer1"; "layer2"; "layer3" ]

let private indexTests =
    testList
        "resnet20's graph indexed on the first 100 CIFAR-10 test images"
        [ test "its stage outputs give PyTorch's activations' linear CKA within 1e-5" {
              for a in stages do
                  for b in stages do
                      let actual = dot (encodingOf "onnx" (nodeOfModule a)) (encodingOf "onnx" (nodeOfModule b))
                      Expect.floatClose
                          { absolute = 1e-5; relative = 1e-5 }
                          actual
                          (referenceCka a b)
                          $"CKA({a}, {b}) from the ONNX capture vs PyTorch's activations"
          }
          test "every tensor the graph and the module compute alike has CKA 1 within 1e-5 across the two captures" {
              let modules = layersOf "safetensors" |> List.map fst
              let convs = layersOf "onnx" |> List.map fst |> List.filter (fun l -> l.LayerType = "Conv")
              let norms = modules |> List.filter (fun l -> l.LayerType = "BatchNorm2d")
              // The exporter folds each BatchNorm into the convolution before it: the k-th Conv node computes the k-th
              // BatchNorm's output (the raw convolution before it has no node).
              Expect.equal convs.Length norms.Length "one Conv node per BatchNorm module"
              let folded = List.zip norms convs |> List.map (fun (m, c) -> m, c.Layer)
              let ends =
                  modules
                  |> List.filter (fun l -> List.contains l.LayerType [ "BasicBlock"; "Sequential"; "Linear" ])
                  |> List.map (fun m -> m, nodeOfModule m.Layer)
              Expect.equal ends.Length (9 + 3 + 1) "nine blocks, three stages and the classifier"
              for m, node in folded @ ends do
                  let cka = dot (encodingOf "safetensors" m.Layer) (encodingOf "onnx" node)
                  Expect.floatClose { absolute = 1e-5; relative = 0.0 } cka 1.0 $"CKA({m.Layer}, {node})"
                  let onnx = layersOf "onnx" |> List.find (fun (l, _) -> l.Layer = node) |> fst
                  Expect.equal onnx.OutputShape m.OutputShape $"{node}: output shape of {m.Layer}"
          }
          test "every node that runs per call is stored in graph order, named, typed and shaped" {
              let _, result = indexed.Value
              let onnx = result.Models |> List.find (fun m -> m.Model = "onnx")
              let session = OnnxSession(graph.Value)
              Expect.equal onnx.Network "ONNX graph" "network"
              Expect.equal (onnx.Layers + onnx.Skipped.Length) session.Steps.Count "every step stored or skipped"
              let layers = layersOf "onnx" |> List.map fst
              Expect.equal
                  (layers |> List.map _.Layer)
                  [ for n in session.Steps -> OnnxCapture.layerName n.Name ]
                  "the steps' names, in the session's order"
              Expect.equal (layers |> List.map _.LayerType) [ for n in session.Steps -> n.OpType ] "op types"
              Expect.equal (layers |> List.map _.Ordinal) [ 0 .. layers.Length - 1 ] "ordinals"
              let first, last = List.head layers, List.last layers
              Expect.equal
                  (first.Layer, first.OutputShape, first.Parameters)
                  ("conv1.Conv", [| 16L; 32L; 32L |], "weight:16x3x3x3,bias:16")
                  "the first convolution, its BatchNorm folded in (hence its bias)"
              Expect.equal
                  (last.Layer, last.OutputShape, last.Parameters, last.ParameterCount)
                  ("linear.Gemm", [| 10L |], "weight:10x64,bias:10", 650L)
                  "the classifier"
          }
          test "a node searched with its own model included finds itself at 1 and the module it equals next" {
              let db, _ = indexed.Value
              let node = (layersOf "onnx" |> List.filter (fun (l, _) -> l.LayerType = "Conv")).[7] |> fst
              let bn = (layersOf "safetensors" |> List.filter (fun (l, _) -> l.LayerType = "BatchNorm2d")).[7] |> fst
              let hits = (search db { LayerSearch.query "onnx" [ node.Layer ] with IncludeSelf = true; K = 2 }).Head
              // The two are the same tensor up to float32 rounding, so either may rank first.
              Expect.equal
                  (hits.Results |> List.map (fun h -> h.Model, h.Layer) |> set)
                  (set [ "onnx", node.Layer; "safetensors", bn.Layer ])
                  $"{node.Layer}: itself and {bn.Layer}"
              for h in hits.Results do
                  Expect.floatClose { absolute = 1e-5; relative = 0.0 } h.Score 1.0 $"{h.Model} {h.Layer} at 1"
              let others = (search db { LayerSearch.query "onnx" [ node.Layer ] with K = 1 }).Head.Results
              Expect.equal (others |> List.map (fun h -> h.Model, h.Layer)) [ "safetensors", bn.Layer ] "without self"
          } ]

let private captureTests =
    testList
        "OnnxCapture"
        [ test "batches of 7 in passes of at most 4 MB of rows give one run's encodings" {
              let probe = ProbeSet.load cifar.Value 0 20 (Some mean) (Some std)
              let session = OnnxSession(graph.Value)
              let capture batch budget =
                  OnnxCapture.capture
                      Device.Cpu
                      session
                      LayerCapture.everyLayer
                      probe.Images
                      probe.Row.InputShape
                      batch
                      budget
              let whole, skippedWhole = capture 20 OnnxCapture.DefaultBudget
              // A 16x32x32 node holds 1.3 MB of rows for 20 inputs: three at most share a pass.
              let batched, skippedBatched = capture 7 (4L <<< 20)
              Expect.equal skippedBatched skippedWhole "the same nodes skipped"
              Expect.equal (batched |> List.map _.Path) (whole |> List.map _.Path) "the same layers, in order"
              for b, w in List.zip batched whole do
                  Expect.equal b.OutputShape w.OutputShape $"{b.Path}: shape"
                  closeTo 1e-6 1e-5 $"{b.Path}: encoding" w.Encoding b.Encoding
          }
          test "nodes are chosen by op type, by name as stored or as in the file; an unknown name is refused" {
              let probe = ProbeSet.load "random:8:3x32x32:3" 0 8 None None
              let session = OnnxSession(graph.Value)
              let capture selection =
                  OnnxCapture.capture
                      Device.Cpu
                      session
                      selection
                      probe.Images
                      probe.Row.InputShape
                      OnnxCapture.DefaultBatch
                      OnnxCapture.DefaultBudget
                  |> fst
                  |> List.map (fun l -> l.Path, l.Type)
              let adds =
                  [ for n in session.Steps do
                        if n.OpType = "Add" then
                            yield OnnxCapture.layerName n.Name, "Add" ]
              Expect.equal adds.Length 9 "one Add per residual block"
              Expect.equal
                  (capture { LayerCapture.Paths = []; LayerCapture.Types = [ "Add" ] })
                  adds
                  "--layer-types Add"
              let named =
                  capture { LayerCapture.Paths = [ "/layer3/layer3.2/Relu_1"; "linear.Gemm" ]; LayerCapture.Types = [] }
              Expect.equal named [ "layer3.layer3.2.Relu_1", "Relu"; "linear.Gemm", "Gemm" ] "--layers"
              let e =
                  throwsOf<InputException>(fun () ->
                      capture { LayerCapture.Paths = [ "nosuch" ]; LayerCapture.Types = [] } |> ignore)
              Expect.stringContains e.Message "the graph has no node nosuch" "names the node"
          } ]

let private cliTests =
    testList
        "hybrid cka index of ONNX files"
        [ testInTempDir "indexes the graph's ReLUs (--json); an unknown operator and a truncated file are one line"
          <| fun dir ->
              let db = Path.Combine(dir, "hybrid.db")
              let index (path: string) (flags: string list) =
                  CliTests.runCli (
                      [ "cka"; "index"; path; "--probe"; "random:12:3x32x32:7"; "--probe-count"; "12"; "--db"; db ]
                      @ flags
                  )
              let code, out, err = index onnxFile.Value [ "--layer-types"; "Relu"; "--json" ]
              Expect.equal code 0 $"exit code (stderr: {err})"
              use doc = parseJson out
              let m = doc.RootElement.GetProperty("models")[0]
              Expect.equal (m.GetProperty("network").GetString()) "ONNX graph" "network"
              let relus = graph.Value.Nodes |> Seq.filter (fun n -> n.OpType = "Relu")
              Expect.equal (m.GetProperty("layers").GetInt32()) (Seq.length relus) "every ReLU"
              let unknown = Path.Combine(repoRoot, "tests", "golden", "onnx_invalid", "unknown_op.onnx")
              let truncated = Path.Combine(dir, "half.onnx")
              let bytes = File.ReadAllBytes onnxFile.Value
              File.WriteAllBytes(truncated, bytes[.. bytes.Length / 2])
              for path, says in
                  [ unknown, "operator 'FancyNorm' is not supported"; truncated, "not a valid ONNX protobuf" ] do
                  let code, _, err = index path []
                  Expect.equal code 1 $"{path}: exit code"
                  Expect.stringContains err path "names the file"
                  Expect.stringContains err says "says why"
                  let errors = err.Split('\n') |> Array.filter (fun l -> l.StartsWith "hybrid: error:")
                  Expect.equal errors.Length 1 $"{path}: one error line ({err})"
                  Expect.isFalse (err.Contains "   at ") $"{path}: no stack trace"
              let code, _, err = index onnxFile.Value [ "--arch"; "cifar-resnet20" ]
              Expect.equal code 1 "--arch with an ONNX file: exit code"
              Expect.stringContains err "carries its own graph" "says why" ]

[<Tests>]
let tests = testList "onnx capture" [ indexTests; captureTests; cliTests ]
