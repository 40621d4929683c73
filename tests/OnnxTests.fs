module Hybrid.Tests.OnnxTests

open System
open System.IO
open Expecto
open Hybrid.Core.Nn.Formats.Onnx.Reader

// ---------------------------------------------------------------------------------------------------
// Helpers

let private resnet20Onnx () = sharedFile "models/cifar10-resnet20/model.onnx"

/// A minimal protobuf writer, independent of the generated code, so that the hand-built models below
/// also check the field numbers of our onnx.proto against the ONNX specification.
module private Pb =
    let varint (value: uint64) =
        let out = ResizeArray<byte>()
        let mutable v = value
        while v >= 0x80UL do
            out.Add(byte (v &&& 0x7FUL ||| 0x80UL))
            v <- v >>> 7
        out.Add(byte v)
        out.ToArray()
    let key field wireType = varint (uint64 ((field <<< 3) ||| wireType))
    let int field (v: int64) = Array.append (key field 0) (varint (uint64 v))
    let bytes field (payload: byte[]) = Array.concat [ key field 2; varint (uint64 payload.Length); payload ]
    let float32 field (v: float32) = Array.append (key field 5) (BitConverter.GetBytes v)
    let str field (s: string) = bytes field (Text.Encoding.UTF8.GetBytes s)
    let msg field (parts: byte[] list) = bytes field (Array.concat parts)
    /// Repeated int64 in packed form (proto3 style).
    let packedInts field (vs: int64 list) = bytes field (Array.concat [ for v in vs -> varint (uint64 v) ])
    /// Repeated int64 unpacked (proto2 style, as older exporters write it).
    let unpackedInts field (vs: int64 list) = Array.concat [ for v in vs -> int field v ]
    let packedFloats field (vs: float32 list) = bytes field (Array.concat [ for v in vs -> BitConverter.GetBytes v ])
    let entry field (k: string) (v: string) = msg field [ str 1 k; str 2 v ]

/// A small model with the encodings the exporters use: packed and unpacked typed fields, raw_data,
/// external data, a tensor attribute, symbolic and fixed dimensions, and an ai.onnx opset.
let private handBuiltModel (extra: byte[] list) =
    let dim (d: byte[]) = Pb.msg 1 [ d ]
    let input =
        Pb.msg
            11
            [ Pb.str 1 "x"; Pb.msg 2 [ Pb.msg 1 [ Pb.int 1 1L; Pb.msg 2 [ dim (Pb.str 2 "N"); dim (Pb.int 1 3L) ] ] ] ]
    let graph =
        Pb.msg
            7
            ([ Pb.msg
                   1
                   [ Pb.str 1 "x"
                     Pb.str 1 "w"
                     Pb.str 2 "y"
                     Pb.str 3 "/conv/Conv"
                     Pb.str 4 "Conv"
                     Pb.msg 5 [ Pb.str 1 "strides"; Pb.packedInts 8 [ 2L; 2L ]; Pb.int 20 7L ]
                     Pb.msg 5 [ Pb.str 1 "alpha"; Pb.float32 2 0.5f; Pb.int 20 1L ] ]
               Pb.msg
                   1
                   [ Pb.str 2 "c"
                     Pb.str 4 "Constant"
                     Pb.str 7 "ai.onnx"
                     Pb.msg
                         5
                         [ Pb.str 1 "value"
                           Pb.int 20 4L
                           Pb.msg 5 [ Pb.int 2 7L; Pb.unpackedInts 7 [ -1L; 5L ]; Pb.packedInts 1 [ 2L ] ] ] ]
               Pb.str 2 "hand"
               Pb.msg
                   5
                   [ Pb.packedInts 1 [ 2L; 2L ]
                     Pb.int 2 1L
                     Pb.packedFloats 4 [ 1.0f; 2.0f; -3.0f; 0.25f ]
                     Pb.str 8 "w" ]
               Pb.msg
                   5
                   [ Pb.unpackedInts 1 [ 3L ]
                     Pb.int 2 7L
                     Pb.str 8 "i"
                     Pb.bytes 9 (Array.concat [ for v in [ 7L; -8L; 9L ] -> BitConverter.GetBytes v ]) ]
               Pb.msg 5 [ Pb.packedInts 1 [ 3L ]; Pb.int 2 9L; Pb.str 8 "b"; Pb.packedInts 5 [ 1L; 0L; 1L ] ]
               Pb.msg
                   5
                   [ Pb.packedInts 1 [ 64L; 3L ]
                     Pb.int 2 1L
                     Pb.str 8 "ext"
                     Pb.int 14 1L
                     Pb.entry 13 "location" "weights.bin"
                     Pb.entry 13 "offset" "4096"
                     Pb.entry 13 "length" "768" ]
               Pb.msg 5 [ Pb.packedInts 1 [ 5L ]; Pb.int 2 1L; Pb.str 8 "absent" ]
               input
               Pb.msg 12 [ Pb.str 1 "y" ] ]
             @ extra)
    Array.concat
        [ Pb.int 1 8L
          Pb.str 2 "hand"
          graph
          Pb.msg 8 [ Pb.str 1 ""; Pb.int 2 13L ]
          Pb.msg 8 [ Pb.str 1 "com.example"; Pb.int 2 1L ] ]

/// Parsing must fail with an InputException naming the file and containing every expected part.
let private expectRejected (bytes: byte[]) (expected: string list) =
    try
        let model = OnnxModel.Parse("bad.onnx", bytes)
        failtestf "parsing should fail, but it read %d nodes" model.Nodes.Count
    with :? InputException as e ->
        Expect.stringStarts e.Message "bad.onnx: " "the message names the file"
        for part in expected do
            Expect.stringContains e.Message part "the message names the problem"

let private opTypes (model: OnnxModel) = model.Nodes |> Seq.map _.OpType |> Set.ofSeq

// ---------------------------------------------------------------------------------------------------
// Tests

let private handBuilt =
    testList
        "hand-built model"
        [ test "graph, attributes, tensors and shapes decode as written" {
              let model = OnnxModel.Parse("hand.onnx", handBuiltModel [])
              Expect.equal model.IrVersion 8L "ir_version"
              Expect.equal model.ProducerName "hand" "producer_name"
              Expect.equal model.Opset 13L "standard opset"
              Expect.equal model.OperatorSets.["com.example"] 1L "custom opset"
              Expect.equal model.GraphName "hand" "graph name"
              let conv = model.Nodes.[0]
              Expect.equal (conv.Name, conv.OpType, conv.Domain) ("/conv/Conv", "Conv", "") "conv node"
              Expect.equal (List.ofSeq conv.Inputs) [ "x"; "w" ] "conv inputs"
              Expect.equal (List.ofSeq conv.Outputs) [ "y" ] "conv outputs"
              Expect.equal (conv.Ints "strides" |> Option.ofObj |> Option.map List.ofSeq) (Some [ 2L; 2L ]) "strides"
              Expect.equal (conv.Float("alpha", 0.0f)) 0.5f "float attribute"
              Expect.equal (conv.Int("group", 1L)) 1L "absent attribute falls back"
              let constant = model.Nodes.[1]
              Expect.equal constant.Domain "" "ai.onnx is the standard domain"
              let value = nonNull constant.Attributes.["value"].Tensor
              Expect.equal (value.DataType, List.ofSeq value.Shape) (OnnxDataType.Int64, [ 2L ]) "constant value type"
              Expect.equal (value.ToInt64()) [| -1L; 5L |] "unpacked int64_data"
              let w = model.Initializers.["w"]
              Expect.equal (List.ofSeq w.Shape) [ 2L; 2L ] "w shape"
              Expect.equal (w.ToFloat32()) [| 1.0f; 2.0f; -3.0f; 0.25f |] "packed float_data"
              Expect.equal (model.Initializers.["i"].ToInt64()) [| 7L; -8L; 9L |] "int64 raw_data with unpacked dims"
              let b = model.Initializers.["b"]
              Expect.equal (b.Data |> Option.ofObj) (Some [| 1uy; 0uy; 1uy |]) "bool from int32_data, one byte each"
              let ext = model.Initializers.["ext"]
              Expect.isFalse ext.HasData "external data is not read"
              Expect.equal
                  ext.External
                  (Some(OnnxExternalData("weights.bin", 4096L, Nullable 768L)) |> Option.toObj)
                  "external reference"
              Expect.equal ext.ElementCount 192L "external tensor keeps its shape"
              Expect.isFalse model.Initializers.["absent"].HasData "absent data is allowed"
              Expect.throwsT<InvalidOperationException> (fun () -> ext.ToFloat32() |> ignore) "no data to convert"
              let x = model.Inputs.[0]
              Expect.equal x.ElementType OnnxDataType.Float "input element type"
              Expect.equal
                  (x.Shape |> Option.ofObj |> Option.map List.ofSeq)
                  (Some [ OnnxDim(Nullable(), "N"); OnnxDim(Nullable 3L, null) ])
                  "symbolic and fixed dims"
              Expect.isNull model.Outputs.[0].Shape "an output without a type has no shape"
          }

          test "inconsistent tensors and graphs are refused with the problem named" {
              let tensor parts = Pb.msg 5 (Pb.str 8 "t" :: parts)
              expectRejected
                  (handBuiltModel [ tensor [ Pb.packedInts 1 [ 2L ]; Pb.int 2 1L; Pb.bytes 9 [| 0uy; 0uy; 0uy |] ] ])
                  [ "'t'"; "raw_data holds 3 bytes" ]
              expectRejected
                  (handBuiltModel [ tensor [ Pb.packedInts 1 [ 3L ]; Pb.int 2 1L; Pb.packedFloats 4 [ 1.0f ] ] ])
                  [ "float_data holds 1 values" ]
              expectRejected
                  (handBuiltModel [ tensor [ Pb.packedInts 1 [ -2L ]; Pb.int 2 1L ] ])
                  [ "negative dimension -2" ]
              expectRejected
                  (handBuiltModel [ tensor [ Pb.packedInts 1 [ 1L <<< 40; 1L <<< 40 ]; Pb.int 2 1L ] ])
                  [ "too many elements" ]
              expectRejected
                  (handBuiltModel [ tensor [ Pb.packedInts 1 [ 1L <<< 40; 1L <<< 10 ]; Pb.int 2 1L ] ])
                  [ "too large" ]
              expectRejected (handBuiltModel [ tensor [ Pb.int 2 99L ] ]) [ "unknown element type 99" ]
              expectRejected
                  (handBuiltModel [ tensor [ Pb.int 2 1L; Pb.int 14 1L; Pb.entry 13 "offset" "x" ] ])
                  [ "offset 'x'" ]
              expectRejected (handBuiltModel [ tensor [ Pb.int 2 1L; Pb.int 14 1L ] ]) [ "without a location" ]
              expectRejected
                  (handBuiltModel [ Pb.msg 5 [ Pb.str 8 "w"; Pb.int 2 1L; Pb.packedInts 1 [ 0L ] ] ])
                  [ "initializer 'w' appears twice" ]
              expectRejected (Pb.int 1 8L) [ "no graph" ]
              expectRejected [| 0xFFuy; 0xFFuy |] [ "not a valid ONNX protobuf" ]
          }

          test "a missing file is refused naming it" {
              let path = Path.Combine(Path.GetTempPath(), "hybrid-no-such-model.onnx")
              try
                  OnnxModel.Load path |> ignore
                  failtest "loading a missing file should fail"
              with :? InputException as e ->
                  Expect.stringStarts e.Message path "the message names the file"
          } ]

let private resnet20 =
    testList
        "cifar10-resnet20"
        [ test "graph, opset, symbolic batch and operator set" {
              let model = OnnxModel.Load(resnet20Onnx ())
              Expect.equal model.Opset 13L "opset (shared/README.md)"
              let expectedOps =
                  set
                      [ "Conv"
                        "Relu"
                        "Add"
                        "GlobalAveragePool"
                        "Flatten"
                        "Gemm"
                        "Constant"
                        "ConstantOfShape"
                        "Slice"
                        "Reshape"
                        "Transpose"
                        "Concat"
                        "Cast"
                        "Pad" ]
              Expect.equal (opTypes model) expectedOps "operators (shared/README.md)"
              Expect.equal model.Inputs.Count 1 "one graph input: the weights are initializers"
              let input = model.Inputs.[0]
              let shape = nonNull input.Shape
              Expect.equal shape.Count 4 "NCHW input"
              Expect.isTrue shape.[0].IsSymbolic "the batch dimension is dynamic"
              Expect.equal
                  [ for d in shape |> Seq.skip 1 -> d.Value ]
                  [ Nullable 3L; Nullable 32L; Nullable 32L ]
                  "C, H, W"
              Expect.isTrue
                  (model.Nodes |> Seq.exists (fun n -> n.Name = "/layer1/layer1.0/conv1/Conv"))
                  "module paths in node names"
              // ResNet-20: conv1 + 3 stages x 3 blocks x 2 convolutions.
              Expect.equal (model.Nodes |> Seq.filter (fun n -> n.OpType = "Conv") |> Seq.length) 19 "Conv count"
          }

          test "initializers feeding Conv and Gemm have the layer shapes and the checkpoint's values" {
              let model = OnnxModel.Load(resnet20Onnx ())
              for conv in model.Nodes |> Seq.filter (fun n -> n.OpType = "Conv") do
                  let weight = model.Initializers.[conv.Inputs.[1]]
                  Expect.equal weight.Shape.Count 4 (sprintf "%s weight is 4-D" conv.Name)
                  Expect.equal weight.DataType OnnxDataType.Float "float32 weights"
                  Expect.isTrue weight.HasData "weights are inside the file"
                  // BatchNorm was folded in, so every Conv has a bias of one value per output channel.
                  Expect.equal
                      (List.ofSeq model.Initializers.[conv.Inputs.[2]].Shape)
                      [ weight.Shape.[0] ]
                      (sprintf "%s bias" conv.Name)
              let gemm = model.Nodes |> Seq.find (fun n -> n.OpType = "Gemm")
              let weight = model.Initializers.[gemm.Inputs.[1]]
              Expect.equal (List.ofSeq weight.Shape) [ 10L; 64L ] "Gemm weight is 10 x 64"
              Expect.equal (gemm.Int("transB", 0L)) 1L "Gemm multiplies by the transposed weight, as nn.Linear"
              // The exporter stores the Linear layer unchanged, so its bits equal the safetensors checkpoint's.
              use checkpoint = SafetensorsFile.Open(sharedFile "models/cifar10-resnet20/model.safetensors")
              Expect.equal (weight.ToFloat32()) (checkpoint.ReadFloat32 "linear.weight") "Gemm weight bits"
              Expect.equal
                  (model.Initializers.[gemm.Inputs.[2]].ToFloat32())
                  (checkpoint.ReadFloat32 "linear.bias")
                  "Gemm bias bits"
          } ]

let private torchvision =
    let dir = sharedPath "data/torchvision-architectures"
    let files = if Directory.Exists dir then Directory.GetFiles(dir, "*.onnx") |> Array.sort else [||]
    testList
        "torchvision architectures"
        [ yield test "all 22 are present" { Expect.equal files.Length 22 (sprintf "ONNX files in %s" dir) }
          for file in files do
              yield
                  test (Path.GetFileNameWithoutExtension file) {
                      let model = OnnxModel.Load file
                      Expect.equal model.Opset 13L "opset (shared/README.md)"
                      let convs = model.Nodes |> Seq.filter (fun n -> n.OpType = "Conv") |> Seq.toArray
                      Expect.isGreaterThan convs.Length 0 "Conv count"
                      // export_params=False: each Conv weight is a graph input with a 4-D shape and no data.
                      let inputs = dict [ for i in model.Inputs -> i.Name, i ]
                      for conv in convs do
                          let weight = conv.Inputs.[1]
                          match model.Initializers.TryGetValue weight with
                          | true, t -> Expect.equal t.Shape.Count 4 (sprintf "%s weight is 4-D" conv.Name)
                          | _ ->
                              Expect.isTrue
                                  (inputs.ContainsKey weight)
                                  (sprintf "%s weight %s is a graph input" conv.Name weight)
                              Expect.equal
                                  (nonNull inputs.[weight].Shape).Count
                                  4
                                  (sprintf "%s weight is 4-D" conv.Name)
                  } ]

/// Seeded mutations of the real model: each must either load or raise InputException, nothing else.
let private corrupted =
    testList
        "corrupted cifar10-resnet20"
        [ test "truncated copies are refused" {
              let bytes = File.ReadAllBytes(resnet20Onnx ())
              let rng = Random 20261123
              // The graph field spans nearly the whole file, so any cut in the first 90% falls inside it.
              let cuts = [ 0; 1; 2; 10 ] @ [ for _ in 1..60 -> rng.Next(int (0.9 * float bytes.Length)) ]
              for cut in cuts do
                  try
                      OnnxModel.Parse("cut.onnx", bytes.[.. cut - 1]) |> ignore
                      failtestf "a copy cut at %d of %d bytes loaded" cut bytes.Length
                  with :? InputException as e ->
                      Expect.stringStarts e.Message "cut.onnx: " "the message names the file"
          }

          testWithTempFile "a truncated file on disk is refused naming it" "truncated.onnx" (fun path ->
              let bytes = File.ReadAllBytes(resnet20Onnx ())
              File.WriteAllBytes(path, bytes.[.. bytes.Length / 2])
              try
                  OnnxModel.Load path |> ignore
                  failtest "the truncated file loaded"
              with :? InputException as e ->
                  Expect.stringStarts e.Message path "the message names the file")

          test "byte-mutated copies load or give only InputException" {
              let original = File.ReadAllBytes(resnet20Onnx ())
              let rng = Random 4
              let mutable refused = 0
              for trial in 1..300 do
                  let bytes = Array.copy original
                  // Mutations aimed at the structure: the first 4 KiB and the last 16 KiB hold the model
                  // header, node list and value infos; elsewhere most bytes are weights.
                  for _ in 1 .. 1 + rng.Next 8 do
                      let position =
                          match rng.Next 3 with
                          | 0 -> rng.Next(min 4096 bytes.Length)
                          | 1 -> bytes.Length - 1 - rng.Next(min 16384 bytes.Length)
                          | _ -> rng.Next bytes.Length
                      bytes.[position] <- byte (rng.Next 256)
                  try
                      OnnxModel.Parse("mutated.onnx", bytes) |> ignore
                  with
                  | :? InputException as e ->
                      refused <- refused + 1
                      Expect.stringStarts e.Message "mutated.onnx: " "names the file"
                  | e -> failtestf "mutation %d raised %s: %s" trial (e.GetType().Name) e.Message
              // Guards against a test that never exercises the error path.
              Expect.isGreaterThan refused 30 "some mutations are refused"
          } ]

[<Tests>]
let tests = testList "onnx" [ handBuilt; resnet20; torchvision; corrupted ]
