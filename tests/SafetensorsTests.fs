module Hybrid.Tests.SafetensorsTests

open System
open System.IO
open System.Text
open Expecto
open Hybrid.Core.Nn.Formats

// ---------------------------------------------------------------------------------------------------
// Helpers

let private noMetadata: Collections.Generic.IReadOnlyDictionary<string, string> | null = null

/// Writes the tensors to dir/name.safetensors and opens the result.
let private writeAndOpen dir (tensors: TensorData list) metadata =
    let path = Path.Combine(dir, "roundtrip.safetensors")
    SafetensorsWriter.Write(path, tensors, metadata)
    SafetensorsFile.Open path

let private floatBits (values: float32[]) = values |> Array.map BitConverter.SingleToInt32Bits
let private doubleBits (values: float[]) = values |> Array.map BitConverter.DoubleToInt64Bits

/// Writes a file by hand: a length prefix (the header's own length unless declared), the header text, the data.
let private writeRaw (path: string) (declaredLength: uint64 option) (header: byte[]) (data: byte[]) =
    use stream = File.Create path
    let prefix = BitConverter.GetBytes(defaultArg declaredLength (uint64 header.Length))
    for bytes in [ prefix; header; data ] do
        stream.Write(bytes, 0, bytes.Length)

let private utf8 (text: string) = Encoding.UTF8.GetBytes text

/// Opening path must fail with one InputException naming the file and containing every expected part.
let private expectRejected (path: string) (expected: string list) =
    let fileName = nonNull (Path.GetFileName path)
    try
        use file = SafetensorsFile.Open path
        failtestf "opening %s should fail, but it read %d tensors" fileName file.Tensors.Count
    with :? InputException as e ->
        Expect.stringContains e.Message fileName "the message names the file"
        for part in expected do
            Expect.stringContains e.Message part "the message names the problem"

// ---------------------------------------------------------------------------------------------------
// Round trips

let private f32Specials =
    [| 0.0f
       -0.0f
       1.5f
       -3.25e-30f
       Single.MaxValue
       Single.MinValue
       Single.Epsilon
       Single.PositiveInfinity
       Single.NegativeInfinity
       Single.NaN
       0.1f
       -7.0f |]

let private roundTrips =
    testList
        "round trip"
        [ testInTempDir "every dtype, exact where the dtype holds the value" (fun dir ->
              let f64 = [| 0.0; -0.0; Math.PI; -1e300; Double.Epsilon; Double.NaN; Double.NegativeInfinity |]
              let i64 = [| Int64.MinValue; -1L; 0L; 42L; Int64.MaxValue |]
              let i32 = [| Int32.MinValue; -1; 0; 7; Int32.MaxValue |]
              let u8 = [| 0uy; 1uy; 127uy; 128uy; 255uy |]
              let halves =
                  [| Half.Zero; Half.One; Half.MaxValue; Half.Epsilon; Half.NaN; (Half.op_Explicit -2.5f: Half) |]
              let tensors =
                  [ TensorData.Float32("f32", [| 3L; 4L |], f32Specials)
                    TensorData.Float64("f64", [| 7L |], f64)
                    TensorData.Int64("i64", [| 5L; 1L |], i64)
                    TensorData.Int32("i32", [| 5L |], i32)
                    TensorData.UInt8("u8", [| 5L |], u8)
                    TensorData.Bool("bool", [| 2L; 2L |], [| true; false; false; true |])
                    TensorData.Float16("f16", [| 6L |], halves)
                    TensorData.Float32("scalar", [||], [| 2.5f |])
                    TensorData.Int64("empty", [| 0L; 3L |], [||]) ]
              use file = writeAndOpen dir tensors noMetadata

              Expect.equal
                  [ for t in file.Tensors -> t.Name ]
                  [ for t in tensors -> t.Name ]
                  "tensors in written order"
              Expect.equal (floatBits (file.ReadFloat32 "f32")) (floatBits f32Specials) "F32 bit for bit"
              Expect.equal (doubleBits (file.ReadFloat64 "f64")) (doubleBits f64) "F64 bit for bit"
              Expect.equal (file.ReadInt64 "i64") i64 "I64"
              Expect.equal (file.ReadInt32 "i32") i32 "I32"
              Expect.equal (file.ReadBytes "u8") u8 "U8"
              Expect.equal (file.ReadBytes "bool") [| 1uy; 0uy; 0uy; 1uy |] "BOOL stored as 0/1 bytes"
              Expect.equal (file.ReadInt64 "bool") [| 1L; 0L; 0L; 1L |] "BOOL read as integers"
              Expect.equal
                  (floatBits (file.ReadFloat32 "f16"))
                  (floatBits (halves |> Array.map float32))
                  "F16 widened exactly"
              Expect.equal (file.ReadFloat32 "scalar") [| 2.5f |] "scalar"
              Expect.equal (file.Entry "scalar").ElementCount 1L "a scalar has one element"
              Expect.equal (file.ReadInt64 "empty") [||] "zero-size tensor"
              Expect.equal (file.Entry "empty").Shape [| 0L; 3L |] "zero-size shape kept"
              Expect.equal (file.Entry "i64").DType DType.I64 "dtype kept"
              Expect.equal (file.DataSpan("f64").ToArray()) (file.ReadBytes "f64") "span and copy agree")

          testInTempDir "F16 and BF16 from float32 keep values within half a unit in the last place" (fun dir ->
              let values = [| 0.0f; 1.0f; -2.5f; 3.14159265f; 1e-3f; -123.456f; 6.1e-5f; 1000.1f |]
              use file =
                  writeAndOpen
                      dir
                      [ TensorData.Float16("h", [| 8L |], values); TensorData.BFloat16("b", [| 8L |], values) ]
                      noMetadata
              // Half has 11 significant bits and bfloat16 8, so rounding to nearest errs by at most
              // 2^-11 and 2^-8 relative; every value here is a normal number in both formats.
              let within relative (actual: float32[]) =
                  Array.iteri2
                      (fun i (x: float32) (y: float32) ->
                          Expect.isLessThanOrEqual
                              (abs (float x - float y))
                              (relative * abs (float x))
                              (sprintf "element %d (%g read as %g)" i x y))
                      values
                      actual
              within (pown 2.0 -11) (file.ReadFloat32 "h")
              within (pown 2.0 -8) (file.ReadFloat32 "b")
              Expect.equal (file.Entry "b").ByteLength 16L "two bytes per BF16 element")

          testInTempDir "BF16 rounds ties to even and keeps NaN and infinities" (fun dir ->
              // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: the even neighbour is 1.
              // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: the even neighbour is 1 + 2^-6.
              let values = [| 1.00390625f; 1.01171875f; Single.NaN; Single.PositiveInfinity; Single.NegativeInfinity |]
              use file = writeAndOpen dir [ TensorData.BFloat16("b", [| 5L |], values) ] noMetadata
              let read = file.ReadFloat32 "b"
              Expect.equal read.[0..1] [| 1.0f; 1.015625f |] "ties to even"
              Expect.isTrue (Single.IsNaN read.[2]) "NaN stays NaN"
              Expect.equal read.[3..] [| Single.PositiveInfinity; Single.NegativeInfinity |] "infinities kept")

          testInTempDir "metadata round trips, and is empty when none was written" (fun dir ->
              let metadata = [ "format", "pt"; "note", "quotes \" and \\ and ünïcödé + <tags>"; "empty", "" ]
              let tensors = [ TensorData.UInt8("x", [| 1L |], [| 9uy |]) ]
              (use file = writeAndOpen dir tensors (readOnlyDict metadata)
               Expect.equal
                   (Map.ofSeq [ for kv in file.Metadata -> kv.Key, kv.Value ])
                   (Map.ofList metadata)
                   "metadata")
              use bare = writeAndOpen dir tensors noMetadata
              Expect.isEmpty bare.Metadata "no metadata")

          testInTempDir "converting readers: widening, integer checks and range checks" (fun dir ->
              let tensors =
                  [ TensorData.Float32("f", [| 2L |], [| 0.1f; -2.0f |])
                    TensorData.Float64("d", [| 1L |], [| 0.1 |])
                    TensorData.Int64("big", [| 2L |], [| 3L; 1L <<< 40 |])
                    TensorData.Int32("i", [| 2L |], [| -5; 6 |]) ]
              let path = Path.Combine(dir, "mixed.safetensors")
              SafetensorsWriter.Write(path, tensors)
              use file = SafetensorsFile.Open path
              Expect.equal (file.ReadFloat64 "f") [| float 0.1f; -2.0 |] "F32 widens exactly to double"
              Expect.equal (file.ReadFloat32 "d") [| 0.1f |] "F64 rounds to the nearest float"
              Expect.equal (file.ReadFloat32 "i") [| -5.0f; 6.0f |] "integers read as floats"
              Expect.equal (file.ReadInt64 "i") [| -5L; 6L |] "I32 widens to long"
              let rejects (read: unit -> unit) (parts: string list) =
                  match Expect.throwsC read id with
                  | :? InputException as e ->
                      for part in "mixed.safetensors" :: parts do
                          Expect.stringContains e.Message part "the message names file, tensor and problem"
                  | e -> failtestf "expected a InputException, got %O" e
              rejects (fun () -> file.ReadInt32 "big" |> ignore) [ "'big'"; "Int32 range" ]
              rejects (fun () -> file.ReadInt64 "f" |> ignore) [ "'f'"; "integer dtype" ]
              rejects (fun () -> file.Entry "missing" |> ignore) [ "no tensor named 'missing'" ]
              Expect.isFalse (file.Contains "missing") "Contains"
              Expect.isTrue (file.Contains "big") "Contains")

          testWithTempFile "header is space-padded to a multiple of 8 bytes" "padded.safetensors" (fun path ->
              SafetensorsWriter.Write(path, [ TensorData.UInt8("abc", [| 3L |], [| 1uy; 2uy; 3uy |]) ])
              let bytes = File.ReadAllBytes path
              let headerLength = int (BitConverter.ToUInt64(bytes, 0))
              let header = Encoding.UTF8.GetString(bytes, 8, headerLength)
              Expect.equal (headerLength % 8) 0 "header length is a multiple of 8"
              Expect.stringStarts
                  header
                  """{"abc":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}}"""
                  "compact JSON as the reference writes it"
              let json = header.TrimEnd ' '
              Expect.isTrue (json.EndsWith "}" && header.Length - json.Length < 8) "fewer than 8 spaces after the JSON"
              Expect.equal bytes.[8 + headerLength ..] [| 1uy; 2uy; 3uy |] "data follows the header")

          testInTempDir "writes replace the file atomically and leave nothing behind on failure" (fun dir ->
              let path = Path.Combine(dir, "model.safetensors")
              SafetensorsWriter.Write(path, [ TensorData.Int32("v", [| 1L |], [| 1 |]) ])
              SafetensorsWriter.Write(path, [ TensorData.Int32("v", [| 2L |], [| 2; 3 |]) ])
              (use file = SafetensorsFile.Open path
               Expect.equal (file.ReadInt32 "v") [| 2; 3 |] "second write replaced the first")
              let bad = TensorData("w", DType.F32, [| 2L |], [| 0uy; 0uy; 0uy |])
              let e =
                  Expect.throwsC (fun () -> SafetensorsWriter.Write(Path.Combine(dir, "bad.safetensors"), [ bad ])) id
              Expect.isTrue (e :? ArgumentException) "mismatched data is an argument error"
              Expect.stringContains e.Message "needs 8 bytes" "message states the expected size"
              Expect.throwsT<ArgumentException>
                  (fun () ->
                      SafetensorsWriter.Write(
                          path,
                          [ TensorData.UInt8("x", [| 1L |], [| 1uy |]); TensorData.UInt8("x", [| 1L |], [| 2uy |]) ]
                      ))
                  "duplicate names are rejected"
              Expect.throwsT<ArgumentException>
                  (fun () -> TensorData.Float32("w", [| 2L; 2L |], [| 1.0f |]) |> ignore)
                  "factory checks the shape"
              Expect.equal
                  (Directory.GetFiles dir |> Array.map (Path.GetFileName >> nonNull))
                  [| "model.safetensors" |]
                  "no temporary or partial files")

          testWithTempFile "offsets past 2 GiB are read through the lazy mapping" "sparse.safetensors" (fun path ->
              // A sparse 3 GB file: the big tensor's bytes are never touched, so this costs no disk and
              // shows that Open reads the header alone.
              let big = 3_000_000_000L
              let header =
                  sprintf
                      "{\"big\":{\"dtype\":\"U8\",\"shape\":[%d],\"data_offsets\":[0,%d]},\"tail\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%d,%d]}}"
                      big
                      big
                      big
                      (big + 8L)
              writeRaw path None (utf8 header) [||]
              (use stream = new FileStream(path, FileMode.Open)
               stream.Seek(0L, SeekOrigin.End) |> ignore
               stream.Position <- stream.Position + big
               for v in [ 1.5f; -2.0f ] do
                   stream.Write(BitConverter.GetBytes v, 0, 4))
              use file = SafetensorsFile.Open path
              Expect.equal (file.Entry "big").ElementCount big "element count beyond Int32"
              Expect.equal (file.ReadFloat32 "tail") [| 1.5f; -2.0f |] "tensor stored past 2 GiB"
              let e = Expect.throwsC (fun () -> file.ReadBytes "big" |> ignore) id
              Expect.stringContains e.Message "more than one span can address" "too big for one span"
              file.Dispose()
              Expect.throwsT<ObjectDisposedException>
                  (fun () -> file.ReadFloat32 "tail" |> ignore)
                  "no reads after Dispose"
              file.Dispose())

          testProperty
              "random float32 tensors of random shapes round-trip bit for bit"
              (fun (dims: byte list) (seed: int) ->
                  let shape = dims |> List.truncate 4 |> List.map (fun d -> int64 (d % 6uy)) |> Array.ofList
                  let count = Array.fold (*) 1L shape |> int
                  // Random bit patterns cover NaN payloads, infinities, subnormals and signed zeros.
                  let raw = Array.zeroCreate<byte>(4 * count)
                  Random(seed).NextBytes raw
                  let values = Array.init count (fun i -> BitConverter.ToSingle(raw, 4 * i))
                  withTempDir (fun dir ->
                      use file = writeAndOpen dir [ TensorData.Float32("t", shape, values) ] noMetadata
                      let entry = file.Entry "t"
                      entry.Shape = shape
                      && entry.ElementCount = int64 count
                      && floatBits (file.ReadFloat32 "t") = floatBits values)) ]

// ---------------------------------------------------------------------------------------------------
// Reference files written by PyTorch / the reference implementation

let private referenceFiles =
    testList
        "reference files"
        [ test "masked_layers fixture" {
              use file = SafetensorsFile.Open(sharedFile "fixtures/kernels/masked_layers.safetensors")
              let x = file.Entry "linear_a.x"
              Expect.equal (x.DType, x.Shape) (DType.F32, [| 7L; 33L |]) "linear_a.x is F32 [7, 33]"
              let values = file.ReadFloat32 "linear_a.x"
              Expect.equal values.Length 231 "element count"
              Expect.all values Single.IsFinite "values are finite"
              Expect.equal file.Tensors.Count 86 "tensor count"
          }

          test "cifar10-resnet20 checkpoint" {
              use file = SafetensorsFile.Open(sharedFile "models/cifar10-resnet20/model.safetensors")
              Expect.equal file.Tensors.Count 116 "tensor count"
              Expect.equal file.Metadata.["format"] "pt" "metadata"
              Expect.equal (file.Entry "conv1.weight").Shape [| 16L; 3L; 3L; 3L |] "conv1.weight shape"
              Expect.equal (file.Entry "linear.weight").Shape [| 10L; 64L |] "linear.weight shape"
              Expect.equal
                  (file.Entry "layer3.2.conv2.weight").Shape
                  [| 64L; 64L; 3L; 3L |]
                  "layer3.2.conv2.weight shape"
              Expect.equal (file.Entry "bn1.num_batches_tracked").DType DType.I64 "num_batches_tracked is I64"
              Expect.equal (file.ReadInt64 "bn1.num_batches_tracked") [| 0L |] "num_batches_tracked value"
              // Read with Python's struct module from the same file.
              Expect.equal
                  (file.ReadFloat32 "linear.bias").[0..1]
                  [| 0.19355906546115875f; -0.3431008756160736f |]
                  "linear.bias values"
              let offsets = [ for t in file.Tensors -> t.Begin, t.End ]
              Expect.equal offsets (List.sort offsets) "Tensors are in offset order"
          }

          test "other fixtures open and read" {
              use gmm = SafetensorsFile.Open(sharedFile "fixtures/kernels/gmm.safetensors")
              for t in gmm.Tensors do
                  Expect.equal (gmm.ReadFloat64 t.Name).LongLength t.ElementCount (sprintf "%s element count" t.Name)
              use resnet32 = SafetensorsFile.Open(sharedFile "models/cifar10-resnet32/model.safetensors")
              Expect.equal resnet32.Tensors.Count 188 "resnet32 tensor count"
          }

          testList
              "rewriting reproduces the file byte for byte"
              [ for relative in
                    [ "models/cifar10-resnet20/model.safetensors"; "fixtures/kernels/masked_layers.safetensors" ] ->
                    test relative {
                        let original = sharedFile relative
                        withTempDir (fun dir ->
                            let copy = Path.Combine(dir, "copy.safetensors")
                            (use file = SafetensorsFile.Open original
                             let tensors =
                                 [ for t in file.Tensors -> TensorData(t.Name, t.DType, t.Shape, file.ReadBytes t.Name) ]
                             SafetensorsWriter.Write(
                                 copy,
                                 tensors,
                                 (if file.Metadata.Count = 0 then null else file.Metadata)
                             ))
                            Expect.isTrue (File.ReadAllBytes copy = File.ReadAllBytes original) "identical bytes")
                    } ] ]

// ---------------------------------------------------------------------------------------------------
// Broken and hostile files

let private f32Entry name (shape: string) (b: int) (e: int) =
    sprintf "\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%d,%d]}" name shape b e

let private hostileCases: (string * (string -> unit) * string list) list =
    let header text data path = writeRaw path None (utf8 text) data
    [ "truncated file", (fun path -> File.WriteAllBytes(path, [| 1uy; 2uy; 3uy |])), [ "3 bytes"; "truncated" ]
      "empty file", (fun path -> File.WriteAllBytes(path, [||])), [ "truncated" ]
      "header length beyond the file",
      (fun path -> writeRaw path (Some 12345678UL) (utf8 "{}") [||]),
      [ "header length 12345678 exceeds the file size 10" ]
      "absurd header length",
      (fun path -> writeRaw path (Some UInt64.MaxValue) (utf8 "{}") [||]),
      [ "exceeds the limit" ]
      "header not JSON", header "{\"w\": nope" [||], [ "not valid JSON" ]
      "header not UTF-8",
      (fun path -> writeRaw path None [| yield! utf8 "{\""; 0xFFuy; 0xFEuy; yield! utf8 "\":1}" |] [||]),
      [ "not valid UTF-8" ]
      "name with a lone surrogate escape",
      header "{\"\\ud800\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}" [||],
      [ "not valid" ]
      "header not an object", header "[1, 2]" [||], [ "header is a JSON array, not an object" ]
      "tensor not an object", header "{\"w\": 5}" [||], [ "tensor 'w'"; "found a JSON number" ]
      "missing field", header "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}" [||], [ "'data_offsets' field is missing" ]
      "shape of the wrong type",
      header "{\"w\":{\"dtype\":\"F32\",\"shape\":\"2x2\",\"data_offsets\":[0,16]}}" (Array.zeroCreate 16),
      [ "'shape' is a JSON string" ]
      "unknown dtype",
      header "{\"w\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}" (Array.zeroCreate 4),
      [ "tensor 'w'"; "unknown dtype 'Q7'" ]
      "negative dimension",
      header ("{" + f32Entry "w" "[-1,2]" 0 8 + "}") (Array.zeroCreate 8),
      [ "negative dimension -1" ]
      "fractional dimension", header ("{" + f32Entry "w" "[1.5]" 0 4 + "}") (Array.zeroCreate 4), [ "not an integer" ]
      "data_offsets not a pair",
      header "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}" (Array.zeroCreate 4),
      [ "data_offsets [0] should be [begin, end]" ]
      "data_offsets reversed",
      header ("{" + f32Entry "w" "[0]" 8 0 + "}") (Array.zeroCreate 8),
      [ "end before they begin" ]
      "wrong byte length for the shape",
      header ("{" + f32Entry "w" "[2,2]" 0 12 + "}") (Array.zeroCreate 12),
      [ "tensor 'w'"; "needs 16 bytes"; "span 12" ]
      "offsets out of range",
      header ("{" + f32Entry "w" "[4]" 0 16 + "}") (Array.zeroCreate 8),
      [ "tensor 'w'"; "out of range of the 8-byte data buffer" ]
      "overlapping tensors",
      header ("{" + f32Entry "a" "[4]" 0 16 + "," + f32Entry "b" "[4]" 8 24 + "}") (Array.zeroCreate 24),
      [ "'a'"; "'b'"; "overlap" ]
      "gap between tensors",
      header ("{" + f32Entry "a" "[1]" 0 4 + "," + f32Entry "b" "[1]" 8 12 + "}") (Array.zeroCreate 12),
      [ "gap"; "[4, 8)" ]
      "trailing bytes", header ("{" + f32Entry "a" "[1]" 0 4 + "}") (Array.zeroCreate 8), [ "trailing bytes" ]
      "duplicate tensor name",
      header ("{" + f32Entry "a" "[1]" 0 4 + "," + f32Entry "a" "[1]" 4 8 + "}") (Array.zeroCreate 8),
      [ "'a' more than once" ]
      "metadata value not a string",
      header "{\"__metadata__\":{\"epochs\":10}}" [||],
      [ "__metadata__"; "'epochs'"; "not a string" ]
      "missing file", ignore, [ "file not found" ] ]

let private hostileFiles =
    testList
        "rejects"
        [ for name, build, expected in hostileCases ->
              testWithTempFile name ("broken-" + name.Replace(' ', '_') + ".safetensors") (fun path ->
                  build path
                  expectRejected path expected) ]

[<Tests>]
let tests = testList "safetensors" [ roundTrips; referenceFiles; hostileFiles ]
