/// ONNX Runtime (Microsoft.ML.OnnxRuntime, through Hybrid.Bench.OnnxRuntimePeer) as the peer of our ONNX export and
/// runtime: the zoo's image models exported by OnnxExport and run by ONNX Runtime give what our modules compute, and
/// ONNX Runtime and our OnnxSession agree on the published ResNet-20 graph.
module Hybrid.Tests.OnnxRuntimePeerTests

open System.IO
open Expecto
open Google.Protobuf
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Formats.Onnx
open Hybrid.Core.Nn.Formats.Onnx.Reader
open Hybrid.Core.Nn.Formats.Onnx.Runtime
open Hybrid.Bench

let private exportTests =
    // ONNX Runtime fuses and reorders (Conv + BatchNorm, MatMul + Add, its own GELU and LayerNorm kernels), so its
    // float32 sums differ from ours in order. Measured here: ResNet-20 1.3e-5 abs on logits up to 32 (4e-7 of the
    // largest), the mixer 2.7e-7 abs at opset 13 and 1.8e-7 at 17 (logits up to 0.6), small-cnn and MobileNetV3 6e-8;
    // 1e-4 abs + 1e-4 rel, the tolerance of the other logit comparisons, leaves room for other processors' kernels.
    testList
        "our export run by ONNX Runtime equals our forward"
        [ for name, size, channels, opset in
              // The models of a few million parameters at most, to keep the test quick.
              OnnxRuntimeTests.zooExportCases
              |> List.filter (fun (n, _, _, _) ->
                  List.contains n [ "cifar-resnet20"; "small-cnn"; "mlp-mixer-cifar"; "mobilenet-v3-small" ]) ->
              test $"{name} (opset {opset})" {
                  withTempDir (fun dir ->
                      let path, input, expected = OnnxRuntimeTests.exportZooModel dir name size channels opset
                      let actual = OnnxRuntimePeer.run path input
                      Expect.sequenceEqual actual.Shape expected.Shape "output shape"
                      closeTo 1e-4 1e-4 $"{name} logits" (expected.ToArray<float32>()) (actual.ToArray<float32>()))
              } ]

let private resnet20Test =
    test "ONNX Runtime and our runtime agree on ../shared's ResNet-20 graph for 64 test images" {
        let path = sharedFile "models/cifar10-resnet20/model.onnx"
        use fixture = SafetensorsFile.Open(sharedFile "fixtures/models/resnet20_reference.safetensors")
        let shape = fixture.Entry("input_first64").Shape |> Array.map int
        let input = Tensor.From(fixture.ReadFloat32 "input_first64", shape)
        let ours = OnnxSession(OnnxModel.Load path).Run input
        let peer = OnnxRuntimePeer.run path input
        // Measured 1.7e-5 abs on logits up to 29 (ONNX Runtime against PyTorch's reference logits: 2.0e-5): two float32
        // engines summing in different orders; 1e-4 abs + 1e-4 rel as for the export above.
        closeTo 1e-4 1e-4 "logits" (peer.ToArray<float32>()) (ours.ToArray<float32>())
    }

/// One LayerNormalization node (opset 17) over x (2, 3, 4) from `axis` with initialisers Scale and B of the given shapes.
let private layerNormGraph (path: string) (axis: int64) (scaleShape: int list) (biasShape: int list) =
    let g = Generator(12L)
    let initializer name (shape: int list) =
        let t = Proto.TensorProto(Name = name, DataType = int OnnxDataType.Float)
        t.Dims.Add(shape |> List.map int64)
        t.FloatData.Add((g.Normal(0.0, 1.0, ScalarType.Float32, Array.ofList shape)).ToArray<float32>())
        t
    let value name =
        let shape = Proto.TensorShapeProto()
        shape.Dim.Add [ for d in [ 2; 3; 4 ] -> Proto.TensorShapeProto.Types.Dimension(DimValue = int64 d) ]
        let tensor = Proto.TypeProto.Types.Tensor(ElemType = int OnnxDataType.Float, Shape = shape)
        Proto.ValueInfoProto(Name = name, Type = Proto.TypeProto(TensorType = tensor))
    let node = Proto.NodeProto(Name = "ln", OpType = "LayerNormalization")
    node.Input.Add [ "x"; "scale"; "b" ]
    node.Output.Add "y"
    node.Attribute.Add
        [ Proto.AttributeProto(Name = "axis", Type = int OnnxAttributeType.Int, I = axis)
          Proto.AttributeProto(Name = "epsilon", Type = int OnnxAttributeType.Float, F = 1e-3f) ]
    let graph = Proto.GraphProto(Name = "layer_norm")
    graph.Node.Add node
    graph.Initializer.Add [ initializer "scale" scaleShape; initializer "b" biasShape ]
    graph.Input.Add(value "x")
    graph.Output.Add(value "y")
    let model = Proto.ModelProto(IrVersion = 8L, Graph = graph)
    model.OpsetImport.Add(Proto.OperatorSetIdProto(Domain = "", Version = 17L))
    File.WriteAllBytes(path, model.ToByteArray())

let private layerNormTests =
    // ONNX Runtime's LayerNormalization kernel is the reference for ours (opset 17, which ONNX Runtime implements as the
    // standard defines it); both normalise in float32, so 1e-5 abs + 1e-5 rel.
    testList
        "LayerNormalization as ONNX Runtime computes it"
        [ for name, axis, scale, bias in
              [ "last axis, Scale and B of the normalised shape", -1L, [ 4 ], [ 4 ]
                "two axes, Scale and B broadcast to them", 1L, [ 4 ], [ 1; 4 ] ] ->
              test name {
                  withTempDir (fun dir ->
                      let path = Path.Combine(dir, "layer_norm.onnx")
                      layerNormGraph path axis scale bias
                      let x = Generator(13L).Normal(0.5, 2.0, ScalarType.Float32, 2, 3, 4)
                      let ours = OnnxSession(OnnxModel.Load path).Run x
                      closeTo 1e-5 1e-5 "y" ((OnnxRuntimePeer.run path x).ToArray<float32>()) (ours.ToArray<float32>()))
              } ]

[<Tests>]
let tests = testList "onnx runtime peer" [ exportTests; resnet20Test; layerNormTests ]
