/// StateDicts: one loader for safetensors, PyTorch checkpoints and Hugging Face folders, and savers whose .pt files are
/// torch.save's format (checked once by hand with tests/golden/check_pt_roundtrip.py; these tests need no Python).
module Hybrid.Tests.NnSerializationTests

open System
open System.Collections.Generic
open System.IO
open System.IO.Compression
open System.Text
open Expecto
open Hybrid.Core.Nn.Formats
open Hybrid.Core.Nn.Formats.HuggingFace
open Hybrid.Core.Nn.Formats.PyTorch

let private resnet20 file = sharedFile ("models/cifar10-resnet20/" + file)

/// Two tensors are equal in dtype and every element; shapes must match except that PyTorch's scalar
/// num_batches_tracked is shape [1] in model.safetensors.
let private sameTensor (what: string) (expected: Tensor) (actual: Tensor) =
    Expect.equal actual.Dtype expected.Dtype $"{what}: dtype"
    let scalarAsVector =
        (actual.Shape = [||] && expected.Shape = [| 1 |]) || (actual.Shape = [| 1 |] && expected.Shape = [||])
    if not scalarAsVector then
        Expect.equal actual.Shape expected.Shape $"{what}: shape"
    match expected.Dtype with
    | ScalarType.Float32 -> Expect.equal (actual.ToArray<float32>()) (expected.ToArray<float32>()) $"{what}: values"
    | ScalarType.Float64 -> Expect.equal (actual.ToArray<float>()) (expected.ToArray<float>()) $"{what}: values"
    | _ -> Expect.equal (actual.ToArray<int64>()) (expected.ToArray<int64>()) $"{what}: values"

let private sameState
    (what: string)
    (expected: IReadOnlyDictionary<string, Tensor>)
    (actual: IReadOnlyDictionary<string, Tensor>)
    =
    Expect.sequenceEqual actual.Keys expected.Keys $"{what}: keys in order"
    for KeyValue(key, tensor) in expected do
        sameTensor $"{what} {key}" tensor actual.[key]

/// A state of every dtype and shape kind: matrix, vector, scalar, empty, int64, float64, and one tensor under two keys.
let private mixedState () : (string * Tensor) list =
    let rng = Random 3
    let weight = Tensor.From(randomNormal rng 12, [| 3; 4 |])
    [ "conv.weight", weight
      "conv.bias", Tensor.From(randomNormal rng 5, [| 5 |])
      "bn.num_batches_tracked", Tensor.Scalar(7.0, ScalarType.Int64)
      "head.scale", Tensor.From([| Math.PI; -1e-300; 1e300 |], [| 3 |])
      "empty", Tensor.Zeros(ScalarType.Float32, null, 0, 4)
      "scalar", Tensor.Scalar(2.5)
      "labels", Tensor.From([| Int64.MinValue; -1L; 0L; Int64.MaxValue |], [| 2; 2 |])
      "big.rank", Tensor.From(randomNormal rng 120, [| 2; 3; 4; 5 |])
      "tied.weight", weight ]

/// Writes each (file, entries) shard with save, and the Hugging Face index that maps every key to its shard.
let private writeShards (dir: string) (index: string) save (shards: (string * KeyValuePair<string, Tensor> list) list) =
    for file, part in shards do
        save (Path.Combine(dir, file)) part
    let map =
        [ for file, part in shards do
              for KeyValue(k, _) in part -> $"\"{k}\": \"{file}\"" ]
    File.WriteAllText(
        Path.Combine(dir, index),
        sprintf """{"metadata": {}, "weight_map": {%s}}""" (String.Join(", ", map))
    )

let private asDict (entries: (string * Tensor) list) =
    let d = Dictionary<string, Tensor>()
    for k, v in entries do
        d.[k] <- v
    d :> IReadOnlyDictionary<_, _>

/// The local headers of a zip file in order: (name, offset of the entry's data, method).
let private localEntries (path: string) =
    let bytes = File.ReadAllBytes path
    let u16 (o: int) = int (BitConverter.ToUInt16(bytes, o))
    let u32 (o: int) = BitConverter.ToUInt32(bytes, o)
    let rec walk (at: int) acc =
        if u32 at <> 0x04034b50u then
            List.rev acc
        else
            let nameLength, extraLength = u16 (at + 26), u16 (at + 28)
            let name = Encoding.UTF8.GetString(bytes, at + 30, nameLength)
            let dataStart = at + 30 + nameLength + extraLength
            // 0xFFFFFFFF: the size is in the zip64 extra field that opens the extra data.
            let size =
                if u32 (at + 22) = UInt32.MaxValue then
                    int (BitConverter.ToInt64(bytes, at + 30 + nameLength + 4))
                else
                    int (u32 (at + 22))
            walk (dataStart + size) ((name, dataStart, u16 (at + 8)) :: acc)
    walk 0 []

/// Writes `state` as a model folder in `dir`: model.safetensors, or two safetensors shards with their index.
let private writeFolder (dir: string) (state: IReadOnlyDictionary<string, Tensor>) (sharded: bool) =
    Directory.CreateDirectory dir |> ignore
    File.WriteAllText(Path.Combine(dir, "config.json"), """{"model_type": "resnet", "architectures": ["ResNet20"]}""")
    if not sharded then
        StateDicts.SaveSafetensors(Path.Combine(dir, "model.safetensors"), state)
    else
        let entries = List.ofSeq state
        let half = entries.Length / 2
        let shards =
            [ "model-00001-of-00002.safetensors", entries.[.. half - 1]
              "model-00002-of-00002.safetensors", entries.[half..] ]
        writeShards dir "model.safetensors.index.json" (fun path part -> StateDicts.SaveSafetensors(path, part)) shards

[<Tests>]
let tests =
    testList
        "nn serialization"
        [ test "the real ResNet-20 loads from .th, model.pt and model.safetensors with equal tensors" {
              let legacy = StateDicts.Load(resnet20 "resnet20-12fca82f.th")
              let zip = StateDicts.Load(resnet20 "model.pt")
              let safetensors = StateDicts.Load(resnet20 "model.safetensors")
              Expect.equal legacy.Count 97 ".th: 97 keys (no num_batches_tracked)"
              Expect.equal zip.Count 116 "model.pt: 116 keys"
              Expect.equal safetensors.Count 116 "model.safetensors: 116 keys"
              Expect.isFalse
                  (legacy.Keys |> Seq.exists (fun k -> k.StartsWith "module."))
                  "the DataParallel prefix is dropped"
              Expect.equal (Set.ofSeq zip.Keys) (Set.ofSeq safetensors.Keys) "same keys in .pt and .safetensors"
              Expect.equal
                  (Set.ofSeq legacy.Keys)
                  (zip.Keys |> Seq.filter (fun k -> not (k.EndsWith "num_batches_tracked")) |> Set.ofSeq)
                  ".th keys"
              for KeyValue(key, tensor) in zip do
                  sameTensor $"safetensors {key}" tensor safetensors.[key]
                  if legacy.ContainsKey key then
                      sameTensor $".th {key}" tensor legacy.[key]
              Expect.equal zip.["conv1.weight"].Shape [| 16; 3; 3; 3 |] "conv1 shape"
              Expect.equal zip.["layer1.0.bn1.num_batches_tracked"].Dtype ScalarType.Int64 "int64 buffers"
          }

          testInTempDir "our .pt and .safetensors files round-trip through the loader" (fun dir ->
              let state = mixedState ()
              let expected = asDict state
              let pt, st = Path.Combine(dir, "mixed.pt"), Path.Combine(dir, "mixed.safetensors")
              StateDicts.SavePyTorch(pt, state |> List.map (fun (k, v) -> struct (k, v)))
              StateDicts.SaveSafetensors(st, expected, dict [ "format", "pt" ] |> Dictionary)
              sameState ".pt" expected (StateDicts.Load pt)
              sameState ".safetensors" expected (StateDicts.Load st)
              use file = SafetensorsFile.Open st
              Expect.equal file.Metadata.["format"] "pt" "metadata written"
              Expect.equal (TorchCheckpoint.Load(pt).Format) CheckpointFormat.Zip "a zip checkpoint"
              Expect.equal (Directory.GetFiles dir).Length 2 "no temporary files left")

          testWithTempFile "safetensors dtypes map to Float32, Float64 and Int64" "dtypes.safetensors" (fun path ->
              let halves = [| 0.5f; -2.0f; 65504.0f |]
              SafetensorsWriter.Write(
                  path,
                  [ TensorData.Float16("f16", [| 3L |], halves)
                    TensorData.BFloat16("bf16", [| 3L |], halves)
                    TensorData.Float64("f64", [| 1L |], [| 1e-300 |])
                    TensorData.Int32("i32", [| 2L |], [| -7; Int32.MaxValue |])
                    TensorData.UInt8("u8", [| 2L |], [| 0uy; 255uy |])
                    TensorData.Bool("flag", [| 2L |], [| true; false |])
                    TensorData.Int64("i64", [||], [| Int64.MinValue |]) ]
              )
              let state = StateDicts.Load path
              let dtypes = [ for KeyValue(k, t) in state -> k, t.Dtype ]
              Expect.equal
                  dtypes
                  [ "f16", ScalarType.Float32
                    "bf16", ScalarType.Float32
                    "f64", ScalarType.Float64
                    "i32", ScalarType.Int64
                    "u8", ScalarType.Int64
                    "flag", ScalarType.Int64
                    "i64", ScalarType.Int64 ]
                  "dtype per entry, file order"
              // 0.5, -2 and 65504 are exact in half precision and in bfloat16 after rounding to nearest (65504 -> 65536).
              Expect.equal (state.["f16"].ToArray<float32>()) halves "F16 widens exactly"
              Expect.equal (state.["bf16"].ToArray<float32>()) [| 0.5f; -2.0f; 65536.0f |] "BF16 widens exactly"
              Expect.equal (state.["i32"].ToArray<int64>()) [| -7L; int64 Int32.MaxValue |] "I32 widens"
              Expect.equal (state.["u8"].ToArray<int64>()) [| 0L; 255L |] "U8 widens"
              Expect.equal (state.["flag"].ToArray<int64>()) [| 1L; 0L |] "BOOL as 0 and 1"
              Expect.equal (state.["i64"].Shape) [||] "scalar shape")

          testInTempDir
              "our .pt is torch.save's layout: archive/ entries, stored, data 64-byte aligned, version 3"
              (fun dir ->
                  let path = Path.Combine(dir, "model.pt")
                  StateDicts.SavePyTorch(path, asDict (mixedState ()))
                  let entries = localEntries path
                  let names = entries |> List.map (fun (n, _, _) -> n)
                  Expect.equal names.Head "archive/data.pkl" "data.pkl first"
                  Expect.equal names.[1] "archive/byteorder" "then byteorder"
                  Expect.equal (List.last names) "archive/version" "version last"
                  // Eight distinct tensors (the tied weight shares its storage), data/0 .. data/7.
                  Expect.equal
                      (names |> List.filter (fun n -> n.StartsWith "archive/data/"))
                      [ for i in 0..7 -> $"archive/data/{i}" ]
                      "one entry per storage"
                  for name, dataStart, methodId in entries do
                      Expect.equal (dataStart % 64) 0 $"{name}: data 64-byte aligned"
                      Expect.equal methodId 0 $"{name}: stored"
                  use zip = ZipFile.OpenRead path
                  let text (name: string) = use r = new StreamReader(zip.GetEntry(name).Open()) in r.ReadToEnd()
                  Expect.equal (text "archive/version") "3\n" "version record"
                  Expect.equal (text "archive/byteorder") "little" "byteorder record")

          testWithTempFile "a zip64 archive (forced on small data) loads back" "zip64.pt" (fun path ->
              let state = mixedState () |> List.map (fun (k, v) -> struct (k, v))
              use stream = File.Create path
              TorchSaveWriter.Write(stream, state, zip64Threshold = 0L)
              stream.Dispose()
              Expect.equal
                  (localEntries path |> List.map (fun (_, s, _) -> s % 64) |> List.distinct)
                  [ 0 ]
                  "aligned with zip64 extras"
              sameState "zip64" (asDict (mixedState ())) (StateDicts.Load path))

          testInTempDir
              "Hugging Face folders: single file, sharded with index, hub cache snapshot, pytorch_model.bin"
              (fun dir ->
                  let state = StateDicts.Load(resnet20 "model.safetensors")
                  let single, sharded = Path.Combine(dir, "single"), Path.Combine(dir, "sharded")
                  writeFolder single state false
                  writeFolder sharded state true
                  let cache = Path.Combine(dir, "models--org--resnet20")
                  writeFolder (Path.Combine(cache, "snapshots", "abc123")) state true
                  Directory.CreateDirectory(Path.Combine(cache, "snapshots", "stale")) |> ignore
                  Directory.CreateDirectory(Path.Combine(cache, "refs")) |> ignore
                  File.WriteAllText(Path.Combine(cache, "refs", "main"), "abc123\n")
                  let bin = Path.Combine(dir, "bin")
                  Directory.CreateDirectory bin |> ignore
                  File.Copy(resnet20 "resnet20-12fca82f.th", Path.Combine(bin, "pytorch_model.bin"))
                  for folder in [ single; sharded; cache ] do
                      sameState folder state (StateDicts.Load folder)
                  let folder = ModelFolder.Open cache
                  Expect.equal
                      folder.Directory
                      (Path.Combine(cache, "snapshots", "abc123"))
                      "refs/main names the snapshot"
                  Expect.equal folder.WeightFiles.Count 2 "two shards"
                  Expect.equal folder.ModelType "resnet" "config.json model_type"
                  let fromBin = StateDicts.Load bin
                  Expect.equal fromBin.Count 97 "the legacy checkpoint as pytorch_model.bin"
                  for KeyValue(key, tensor) in fromBin do
                      sameTensor key state.[key] tensor
                  // Sharded pytorch_model-0000N-of-00002.bin files named by pytorch_model.bin.index.json.
                  let binShards = Path.Combine(dir, "bin-sharded")
                  Directory.CreateDirectory binShards |> ignore
                  let entries = List.ofSeq state
                  let shards =
                      [ "pytorch_model-00001-of-00002.bin", entries.[..49]
                        "pytorch_model-00002-of-00002.bin", entries.[50..] ]
                  writeShards
                      binShards
                      "pytorch_model.bin.index.json"
                      (fun path part -> StateDicts.SavePyTorch(path, part))
                      shards
                  Expect.equal (ModelFolder.Open binShards).Format WeightFormat.PyTorch "PyTorch shards"
                  sameState binShards state (StateDicts.Load binShards))

          testInTempDir "truncated, corrupt and missing files give the format's exception naming the file" (fun dir ->
              let cut (source: string) (name: string) (keep: float) =
                  let bytes = File.ReadAllBytes source
                  let path = Path.Combine(dir, name)
                  File.WriteAllBytes(path, bytes.[.. int (float bytes.Length * keep)])
                  path
              let cutPt = cut (resnet20 "model.pt") "cut.pt" 0.5
              refusesFile "" cutPt (fun () -> StateDicts.Load cutPt |> ignore)
              let cutTh = cut (resnet20 "resnet20-12fca82f.th") "cut.th" 0.7
              refusesFile "" cutTh (fun () -> StateDicts.Load cutTh |> ignore)
              let cutSt = cut (resnet20 "model.safetensors") "cut.safetensors" 0.9
              refusesFile "" cutSt (fun () -> StateDicts.Load cutSt |> ignore)
              let garbage = Path.Combine(dir, "garbage.bin")
              File.WriteAllBytes(garbage, Encoding.ASCII.GetBytes "not a checkpoint at all")
              refusesFile "not a torch.save file" garbage (fun () -> StateDicts.Load garbage |> ignore)
              let missing = Path.Combine(dir, "absent.safetensors")
              refusesFile "not found" missing (fun () -> StateDicts.Load missing |> ignore)
              let hostile = sharedFile "fixtures/hostile/os_system.pt"
              refusesFile "posix.system" hostile (fun () -> StateDicts.Load hostile |> ignore))

          testInTempDir "broken model folders name the file at fault" (fun dir ->
              let state = asDict [ "a", Tensor.Scalar 1.0; "b", Tensor.Scalar 2.0 ]
              let folder name =
                  let d = Path.Combine(dir, name) in
                  writeFolder d state true
                  d
              let badJson = folder "bad-json"
              let index = Path.Combine(badJson, "model.safetensors.index.json")
              File.WriteAllText(index, "{ not json")
              refusesFile "not valid JSON" index (fun () -> StateDicts.Load badJson |> ignore)
              let escape = folder "escape"
              let index = Path.Combine(escape, "model.safetensors.index.json")
              File.WriteAllText(index, """{"weight_map": {"a": "../single/model.safetensors"}}""")
              refusesFile "not a file name in this folder" index (fun () -> StateDicts.Load escape |> ignore)
              let lying = folder "lying"
              File.WriteAllText(
                  Path.Combine(lying, "model.safetensors.index.json"),
                  """{"weight_map": {"a": "model-00001-of-00002.safetensors", "zzz": "model-00001-of-00002.safetensors"}}"""
              )
              refusesFile "does not hold it" (Path.Combine(lying, "model-00001-of-00002.safetensors")) (fun () ->
                  StateDicts.Load lying |> ignore)
              let empty = Path.Combine(dir, "empty")
              Directory.CreateDirectory empty |> ignore
              refusesFile "no weights" empty (fun () -> StateDicts.Load empty |> ignore))

          testInTempDir "a failed save leaves the old file and no temporary file" (fun dir ->
              let path = Path.Combine(dir, "model.pt")
              StateDicts.SavePyTorch(path, asDict [ "a", Tensor.Scalar 1.0 ])
              let before = File.ReadAllBytes path
              Expect.throws
                  (fun () ->
                      AtomicFile.Write(
                          path,
                          fun stream ->
                              stream.Write(Array.zeroCreate 100, 0, 100)
                              failwith "disk full"
                      ))
                  "the writer's failure propagates"
              rejects "more than once" (fun () ->
                  StateDicts.SavePyTorch(path, [ struct ("a", Tensor.Scalar 1.0); struct ("a", Tensor.Scalar 2.0) ]))
              Expect.equal (File.ReadAllBytes path) before "the old file is intact"
              Expect.equal (Directory.GetFiles dir) [| path |] "no temporary file left") ]
