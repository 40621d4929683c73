/// Dataset and input readers: IDX files (raw and gzip, every element type, hostile headers), Fashion-MNIST from the
/// Debian package, and the FILE:TENSOR / CSV matrices that commands take.
module Hybrid.Tests.DataTests

open System
open System.Buffers.Binary
open System.IO
open System.IO.Compression
open Expecto
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Data
open Hybrid.Core.Nn.Formats
open Hybrid.Core.Nn.Formats.Safetensors
open Hybrid.Analysis
open Hybrid.Tests.Shared

/// An IDX file image: magic (0, 0, type, rank), big-endian dimensions, then the element bytes as given.
let idxBytes (typeCode: byte) (dims: int list) (payload: byte[]) =
    let header = Array.zeroCreate<byte> (4 + 4 * dims.Length)
    header[2] <- typeCode
    header[3] <- byte dims.Length
    dims |> List.iteri (fun i d -> BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), d))
    Array.append header payload

let private gzip (bytes: byte[]) =
    use buffer = new MemoryStream()
    (use z = new GZipStream(buffer, CompressionLevel.Fastest)
     z.Write(bytes, 0, bytes.Length))
    buffer.ToArray()

let private refusedWith (fragment: string) (path: string) =
    refusesFile<InputException> fragment path (fun () -> IdxFile.Read path |> ignore)

let private idxTests =
    testList "idx" [
        testCase "every element type round-trips, raw and gzip" (fun () ->
            withTempDir (fun dir ->
                let values = [| -3.0; 0.0; 7.0; 100.0; -128.0; 127.0 |]
                // Each writer puts one value at an offset of the payload, big-endian.
                let encode (code: byte) (size: int) (write: byte[] -> int -> float -> unit) =
                    let payload = Array.zeroCreate<byte> (values.Length * size)
                    values |> Array.iteri (fun i v -> write payload (i * size) v)
                    idxBytes code [ 2; 3 ] payload
                let cases =
                    [ "int8", encode 0x09uy 1 (fun b o v -> b[o] <- byte (sbyte v))
                      "int16", encode 0x0Buy 2 (fun b o v -> BinaryPrimitives.WriteInt16BigEndian(b.AsSpan o, int16 v))
                      "int32", encode 0x0Cuy 4 (fun b o v -> BinaryPrimitives.WriteInt32BigEndian(b.AsSpan o, int v))
                      "float32", encode 0x0Duy 4 (fun b o v -> BinaryPrimitives.WriteSingleBigEndian(b.AsSpan o, float32 v))
                      "float64", encode 0x0Euy 8 (fun b o v -> BinaryPrimitives.WriteDoubleBigEndian(b.AsSpan o, v)) ]
                for name, bytes in cases do
                    for form, content in [ "raw", bytes; "gzip", gzip bytes ] do
                        let path = Path.Combine(dir, $"{name}.{form}")
                        File.WriteAllBytes(path, content)
                        let idx = IdxFile.Read path
                        Expect.sequenceEqual idx.Shape [ 2; 3 ] $"{name} {form}: shape"
                        Expect.sequenceEqual (idx.ToFloat32()) (Array.map float32 values) $"{name} {form}: values"
                        Expect.sequenceEqual (idx.ToInt64()) (Array.map int64 values) $"{name} {form}: as labels"
                let unsigned = Path.Combine(dir, "uint8")
                File.WriteAllBytes(unsigned, idxBytes 0x08uy [ 3 ] [| 0uy; 128uy; 255uy |])
                Expect.sequenceEqual ((IdxFile.Read unsigned).ToFloat32(0.5f)) [| 0.0f; 64.0f; 127.5f |] "uint8 scaled"))

        testCase "hostile and broken files give one InputException naming the file" (fun () ->
            withTempDir (fun dir ->
                let write name (bytes: byte[]) =
                    let path = Path.Combine(dir, name)
                    File.WriteAllBytes(path, bytes)
                    path
                let good = idxBytes 0x08uy [ 2; 2 ] [| 1uy; 2uy; 3uy; 4uy |]
                refusedWith "file not found" (Path.Combine(dir, "absent"))
                refusedWith "shorter than the 4-byte" (write "tiny" [| 0uy; 0uy |])
                refusedWith "not an IDX file" (write "magic" (Array.append [| 1uy |] good[1..]))
                refusedWith "unknown IDX element type" (write "type" (idxBytes 0x07uy [ 1 ] [| 0uy |]))
                refusedWith "dimensions" (write "rank" (idxBytes 0x08uy [] [||]))
                refusedWith "header of 2 dimensions is incomplete" (write "header" good[.. 8])
                refusedWith "negative" (write "negative" (idxBytes 0x08uy [ -1; 2 ] [||]))
                refusedWith "exceed the largest array" (write "huge" (idxBytes 0x0Euy [ 65536; 65536 ] [||]))
                refusedWith "need 4" (write "short data" good[.. good.Length - 2])
                refusedWith "need 4" (write "long data" (Array.append good [| 9uy |]))
                refusedWith "truncated" (write "short gzip data" (gzip good[.. good.Length - 2]))
                refusedWith "trailing bytes" (write "long gzip data" (gzip (Array.append good [| 9uy |])))
                let corrupt = gzip good
                corrupt[12] <- corrupt[12] ^^^ 0xFFuy
                corrupt[13] <- corrupt[13] ^^^ 0xFFuy
                Expect.throwsT<InputException> (fun () -> IdxFile.Read(write "corrupt gzip" corrupt) |> ignore) "corrupt gzip"
                let fractional = write "fractional" (idxBytes 0x0Duy [ 1 ] (let b = Array.zeroCreate 4 in BinaryPrimitives.WriteSingleBigEndian(b.AsSpan(), 1.5f); b))
                Expect.throwsT<InputException> (fun () -> (IdxFile.Read fractional).ToInt64() |> ignore) "a fractional label"))
    ]

let private fashionMnistTests =
    testList "fashion-mnist" [
        testCase "the Debian test split: 10,000 images of 28 x 28 in [0, 1], 1,000 per class" (fun () ->
            let set = FashionMnist.Load(train = false)
            Expect.equal (set.Count, set.Channels, set.Height, set.Width) (10000, 1, 28, 28) "shape"
            Expect.equal set.Images.Length (10000 * 784) "pixels"
            Expect.isTrue (set.Images |> Array.forall (fun v -> v >= 0.0f && v <= 1.0f)) "pixel range"
            Expect.isTrue (Array.max set.Images = 1.0f) "full-scale pixels occur"
            Expect.sequenceEqual (set.Labels |> Array.countBy id |> Array.sortBy fst |> Array.map snd) (Array.create 10 1000) "balanced classes")
        testCase "a missing folder names itself" (fun () ->
            let e = throwsOf<InputException> (fun () -> FashionMnist.Load(false, "/nonexistent/fmnist") |> ignore)
            Expect.stringContains e.Message "/nonexistent/fmnist" "names the folder")
    ]

let private tensorInputTests =
    testList "tensor input" [
        testCase "FILE:TENSOR flattens (n, ...) per row; a lone tensor needs no name" (fun () ->
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "acts.safetensors")
                let values = Array.init 24 float32
                SafetensorsWriter.Write(path, [ TensorData.Float32("layer", [| 2L; 3L; 4L |], values) ])
                for spec in [ path; path + ":layer" ] do
                    let m = TensorInput.load spec
                    Expect.equal (m.Rows, m.Columns) (2, 12) spec
                    Expect.sequenceEqual m.Values (Array.map float values) spec))
        testCase "a missing tensor lists the ones there; several tensors need a name" (fun () ->
            withTempDir (fun dir ->
                let path = Path.Combine(dir, "two.safetensors")
                SafetensorsWriter.Write(path, [ TensorData.Float64("a", [| 2L |], [| 1.0; 2.0 |]); TensorData.Float64("b", [| 1L |], [| 3.0 |]) ])
                let missing = throwsOf<InputException> (fun () -> TensorInput.load (path + ":c") |> ignore)
                Expect.stringContains missing.Message "it holds: a, b" "lists the tensors"
                let unnamed = throwsOf<InputException> (fun () -> TensorInput.load path |> ignore)
                Expect.stringContains unnamed.Message "name one" "asks for a name"))
        testCase "CSV with and without a header; ragged rows and bad cells name the line" (fun () ->
            withTempDir (fun dir ->
                let write name (text: string) =
                    let path = Path.Combine(dir, name)
                    File.WriteAllText(path, text)
                    path
                let m = TensorInput.load (write "h.csv" "x,y\n1,2\n3.5,-4e1\n\n")
                Expect.equal (m.Rows, m.Columns) (2, 2) "shape"
                Expect.sequenceEqual m.Values [| 1.0; 2.0; 3.5; -40.0 |] "values"
                Expect.sequenceEqual (TensorInput.load (write "n.csv" "1,2\n3,4")).Values [| 1.0; 2.0; 3.0; 4.0 |] "no header"
                let ragged = throwsOf<InputException> (fun () -> TensorInput.load (write "r.csv" "1,2\n3\n") |> ignore)
                Expect.stringContains ragged.Message "line 2 has 1 values" "names the line"
                let bad = throwsOf<InputException> (fun () -> TensorInput.load (write "b.csv" "1,2\n3,x\n") |> ignore)
                Expect.stringContains bad.Message "line 2, column 2" "names the cell"
                Expect.throwsT<InputException> (fun () -> TensorInput.load (write "e.csv" "") |> ignore) "empty"
                Expect.throwsT<InputException> (fun () -> TensorInput.load (Path.Combine(dir, "absent.csv")) |> ignore) "missing"))
    ]

[<Tests>]
let tests = testList "data" [ idxTests; fashionMnistTests; tensorInputTests ]
