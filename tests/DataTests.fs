/// Datasets and inputs: IDX files (raw and gzip, every element type, hostile headers), Fashion-MNIST from the Debian
/// package, the FILE:TENSOR / CSV matrices that commands take, CIFAR binary batches (the real CIFAR-10 test batch and
/// hostile files), MNIST through the shared IDX-pair loader, the DataLoader's order, normalisation and augmentation,
/// the dataset SPEC syntax and image folders.
module Hybrid.Tests.DataTests

open System
open System.Buffers.Binary
open System.IO
open System.IO.Compression
open Expecto
open Hybrid.Core.Nn.Data
open Hybrid.Core.Nn.Formats
open Hybrid.Analysis

/// An IDX file image: magic (0, 0, type, rank), big-endian dimensions, then the element bytes as given.
let private idxBytes (typeCode: byte) (dims: int list) (payload: byte[]) =
    let header = Array.zeroCreate<byte>(4 + 4 * dims.Length)
    header[2] <- typeCode
    header[3] <- byte dims.Length
    dims |> List.iteri (fun i d -> BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), d))
    Array.append header payload

let private gzip (bytes: byte[]) =
    use buffer = new MemoryStream()
    (use z = new GZipStream(buffer, CompressionLevel.Fastest)
     z.Write(bytes, 0, bytes.Length))
    buffer.ToArray()

let private write (dir: string) name (bytes: byte[]) =
    let path = Path.Combine(dir, name)
    File.WriteAllBytes(path, bytes)
    path

let private refusedWith (fragment: string) (path: string) =
    refusesFile fragment path (fun () -> IdxFile.Read path |> ignore)

let private idxTests =
    testList
        "idx"
        [ testCase "every element type round-trips, raw and gzip" (fun () ->
              withTempDir (fun dir ->
                  let values = [| -3.0; 0.0; 7.0; 100.0; -128.0; 127.0 |]
                  // Each writer puts one value at an offset of the payload, big-endian.
                  let encode (code: byte) (size: int) (write: byte[] -> int -> float -> unit) =
                      let payload = Array.zeroCreate<byte>(values.Length * size)
                      values |> Array.iteri (fun i v -> write payload (i * size) v)
                      idxBytes code [ 2; 3 ] payload
                  let cases =
                      [ "int8", encode 0x09uy 1 (fun b o v -> b[o] <- byte (sbyte v))
                        "int16",
                        encode 0x0Buy 2 (fun b o v -> BinaryPrimitives.WriteInt16BigEndian(b.AsSpan o, int16 v))
                        "int32",
                        encode 0x0Cuy 4 (fun b o v -> BinaryPrimitives.WriteInt32BigEndian(b.AsSpan o, int v))
                        "float32",
                        encode 0x0Duy 4 (fun b o v -> BinaryPrimitives.WriteSingleBigEndian(b.AsSpan o, float32 v))
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
                  Expect.sequenceEqual
                      ((IdxFile.Read unsigned).ToFloat32(0.5f))
                      [| 0.0f; 64.0f; 127.5f |]
                      "uint8 scaled"))

          testCase "hostile and broken files give one InputException naming the file" (fun () ->
              withTempDir (fun dir ->
                  let write = write dir
                  let good = idxBytes 0x08uy [ 2; 2 ] [| 1uy; 2uy; 3uy; 4uy |]
                  refusedWith "file not found" (Path.Combine(dir, "absent"))
                  refusedWith "shorter than the 4-byte" (write "tiny" [| 0uy; 0uy |])
                  refusedWith "not an IDX file" (write "magic" (Array.append [| 1uy |] good[1..]))
                  refusedWith "unknown IDX element type" (write "type" (idxBytes 0x07uy [ 1 ] [| 0uy |]))
                  refusedWith "dimensions" (write "rank" (idxBytes 0x08uy [] [||]))
                  refusedWith "header of 2 dimensions is incomplete" (write "header" good[..8])
                  refusedWith "negative" (write "negative" (idxBytes 0x08uy [ -1; 2 ] [||]))
                  refusedWith "exceed the largest array" (write "huge" (idxBytes 0x0Euy [ 65536; 65536 ] [||]))
                  refusedWith "need 4" (write "short data" good[.. good.Length - 2])
                  refusedWith "need 4" (write "long data" (Array.append good [| 9uy |]))
                  refusedWith "truncated" (write "short gzip data" (gzip good[.. good.Length - 2]))
                  refusedWith "trailing bytes" (write "long gzip data" (gzip (Array.append good [| 9uy |])))
                  let corrupt = gzip good
                  corrupt[12] <- corrupt[12] ^^^ 0xFFuy
                  corrupt[13] <- corrupt[13] ^^^ 0xFFuy
                  Expect.throwsT<InputException>
                      (fun () -> IdxFile.Read(write "corrupt gzip" corrupt) |> ignore)
                      "corrupt gzip"
                  let fractional =
                      write
                          "fractional"
                          (idxBytes
                              0x0Duy
                              [ 1 ]
                              (let b = Array.zeroCreate 4 in
                               BinaryPrimitives.WriteSingleBigEndian(b.AsSpan(), 1.5f)
                               b))
                  Expect.throwsT<InputException>
                      (fun () -> (IdxFile.Read fractional).ToInt64() |> ignore)
                      "a fractional label")) ]

let private fashionMnistTests =
    testList
        "fashion-mnist"
        [ testCase "the Debian test split: 10,000 images of 28 x 28 in [0, 1], 1,000 per class" (fun () ->
              let set = FashionMnist.Load(train = false)
              Expect.equal (set.Count, set.Channels, set.Height, set.Width) (10000, 1, 28, 28) "shape"
              Expect.equal set.Images.Length (10000 * 784) "pixels"
              Expect.isTrue (set.Images |> Array.forall (fun v -> v >= 0.0f && v <= 1.0f)) "pixel range"
              Expect.isTrue (Array.max set.Images = 1.0f) "full-scale pixels occur"
              Expect.sequenceEqual
                  (set.Labels |> Array.countBy id |> Array.sortBy fst |> Array.map snd)
                  (Array.create 10 1000)
                  "balanced classes")
          testCase "a missing folder names itself" (fun () ->
              let e = throwsOf<InputException>(fun () -> FashionMnist.Load(false, "/nonexistent/fmnist") |> ignore)
              Expect.stringContains e.Message "/nonexistent/fmnist" "names the folder") ]

let private tensorInputTests =
    testList
        "tensor input"
        [ testCase "FILE:TENSOR flattens (n, ...) per row; a lone tensor needs no name" (fun () ->
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
                  SafetensorsWriter.Write(
                      path,
                      [ TensorData.Float64("a", [| 2L |], [| 1.0; 2.0 |])
                        TensorData.Float64("b", [| 1L |], [| 3.0 |]) ]
                  )
                  let missing = throwsOf<InputException>(fun () -> TensorInput.load (path + ":c") |> ignore)
                  Expect.stringContains missing.Message "it holds: a, b" "lists the tensors"
                  let unnamed = throwsOf<InputException>(fun () -> TensorInput.load path |> ignore)
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
                  Expect.sequenceEqual
                      (TensorInput.load (write "n.csv" "1,2\n3,4")).Values
                      [| 1.0; 2.0; 3.0; 4.0 |]
                      "no header"
                  let ragged =
                      throwsOf<InputException>(fun () -> TensorInput.load (write "r.csv" "1,2\n3\n") |> ignore)
                  Expect.stringContains ragged.Message "line 2 has 1 values" "names the line"
                  let bad =
                      throwsOf<InputException>(fun () -> TensorInput.load (write "b.csv" "1,2\n3,x\n") |> ignore)
                  Expect.stringContains bad.Message "line 2, column 2" "names the cell"
                  Expect.throwsT<InputException> (fun () -> TensorInput.load (write "e.csv" "") |> ignore) "empty"
                  Expect.throwsT<InputException>
                      (fun () -> TensorInput.load (Path.Combine(dir, "absent.csv")) |> ignore)
                      "missing")) ]

let private cifar10Test = sharedPath "data/cifar10/test_batch.bin"

/// CIFAR records: the label bytes given, then 3072 pixel bytes from `pixel r p` (record r, pixel p).
let private cifarBytes (labels: byte[] list) (pixel: int -> int -> byte) =
    [| for r, l in List.indexed labels do
           yield! l
           for p in 0..3071 -> pixel r p |]

let private refused (fragment: string) (path: string) (load: unit -> LabelledImages) =
    refusesFile fragment path (fun () -> load () |> ignore)

let private cifarTests =
    testList
        "cifar"
        [ testCase
              "the CIFAR-10 test batch: 10,000 images of 3 x 32 x 32, 1,000 per class, pixels = raw bytes / 255"
              (fun () ->
                  let raw = File.ReadAllBytes cifar10Test
                  let set = Cifar.Load(cifar10Test, Cifar.Kind.Cifar10)
                  Expect.equal (set.Count, set.Channels, set.Height, set.Width) (10000, 3, 32, 32) "shape"
                  Expect.equal set.Images.Length (10000 * 3072) "pixels"
                  Expect.sequenceEqual
                      set.Labels
                      (Array.init 10000 (fun i -> int64 raw[i * 3073]))
                      "labels are the record bytes"
                  Expect.sequenceEqual
                      (set.Labels |> Array.countBy id |> Array.sortBy fst |> Array.map snd)
                      (Array.create 10 1000)
                      "balanced"
                  // Exact: b / 255f is the same float32 division on both sides.
                  for r in [ 0; 1; 9999 ] do
                      Expect.sequenceEqual
                          set.Images[r * 3072 .. r * 3072 + 15]
                          (Array.init 16 (fun p -> float32 raw[r * 3073 + 1 + p] / 255.0f))
                          $"record {r} first pixels"
                      Expect.equal
                          set.Images[r * 3072 + 3071]
                          (float32 raw[r * 3073 + 3072] / 255.0f)
                          $"record {r} last (blue) pixel"
                  Expect.equal set.ClassNames[int set.Labels[0]] "cat" "the first test image is a cat (label 3)")
          testCase "CIFAR-100 keeps fine labels by default and coarse ones on request" (fun () ->
              withTempDir (fun dir ->
                  let path =
                      write dir "c100.bin" (cifarBytes [ [| 19uy; 99uy |]; [| 0uy; 7uy |] ] (fun r p -> byte (r + p)))
                  let fine = Cifar.Load(path, Cifar.Kind.Cifar100)
                  Expect.sequenceEqual fine.Labels [| 99L; 7L |] "fine"
                  Expect.equal fine.ClassNames.Count 100 "100 fine classes"
                  Expect.equal fine.Images[3072 + 5] (6.0f / 255.0f) "pixels after both label bytes"
                  let coarse = Cifar.Load(path, Cifar.Kind.Cifar100, coarse = true)
                  Expect.sequenceEqual coarse.Labels [| 19L; 0L |] "coarse"
                  Expect.equal coarse.ClassNames.Count 20 "20 coarse classes"
                  Expect.sequenceEqual coarse.Images fine.Images "same pixels"))
          testCase "hostile and truncated CIFAR files give one InputException naming the file" (fun () ->
              withTempDir (fun dir ->
                  let two = cifarBytes [ [| 1uy |]; [| 2uy |] ] (fun _ _ -> 0uy)
                  let c10 path = fun () -> Cifar.Load(path, Cifar.Kind.Cifar10)
                  let c100 path = fun () -> Cifar.Load(path, Cifar.Kind.Cifar100)
                  let absent = Path.Combine(dir, "absent.bin")
                  refused "file not found" absent (c10 absent)
                  let p = write dir "empty.bin" [||] in
                  refused "empty" p (c10 p)
                  let p = write dir "short.bin" two[.. two.Length - 2] in
                  refused "not a whole number" p (c10 p)
                  let p = write dir "long.bin" (Array.append two [| 0uy |]) in
                  refused "1 bytes left over" p (c10 p)
                  let p = write dir "label.bin" (cifarBytes [ [| 1uy |]; [| 10uy |] ] (fun _ _ -> 0uy)) in
                  refused "record 1" p (c10 p)
                  let p = write dir "fine.bin" (cifarBytes [ [| 3uy; 100uy |] ] (fun _ _ -> 0uy)) in
                  refused "fine label 100" p (c100 p)
                  let p = write dir "coarse.bin" (cifarBytes [ [| 20uy; 1uy |] ] (fun _ _ -> 0uy)) in
                  refused "coarse label 20" p (c100 p)
                  refused "Cifar100 records" cifar10Test (c100 cifar10Test)
                  rejects "coarse labels exist only in CIFAR-100" (fun () ->
                      Cifar.Load(cifar10Test, Cifar.Kind.Cifar10, coarse = true)))) ]

/// A uint8 IDX file image.
let private idx (dims: int list) (payload: byte[]) = idxBytes 0x08uy dims payload

let private mnistTests =
    testList
        "mnist"
        [ testCase "MNIST reads the same IDX pair layout as Fashion-MNIST, raw or gzip" (fun () ->
              withTempDir (fun dir ->
                  write dir "t10k-images-idx3-ubyte" (idx [ 3; 2; 2 ] (Array.init 12 (fun i -> byte (20 * i))))
                  |> ignore
                  write dir "t10k-labels-idx1-ubyte" (idx [ 3 ] [| 9uy; 0uy; 4uy |]) |> ignore
                  let set = Mnist.Load(dir, train = false)
                  Expect.equal (set.Count, set.Channels, set.Height, set.Width) (3, 1, 2, 2) "shape"
                  Expect.sequenceEqual set.Labels [| 9L; 0L; 4L |] "labels"
                  // IdxFile scales by the float32 1/255 in float64 arithmetic: within one float32 ulp of 220/255.
                  closeTo 0.0 1.2e-7 "pixels / 255" [| 220.0f / 255.0f |] [| set.Images[11] |]
                  refused "file not found" (Path.Combine(dir, "train-images-idx3-ubyte.gz")) (fun () ->
                      Mnist.Load(dir, train = true))
                  let labels = write dir "t10k-labels-idx1-ubyte" (idx [ 3 ] [| 9uy; 10uy; 4uy |])
                  refused "label 1 is 10, outside 0..9" labels (fun () -> Mnist.Load(dir, false))
                  write dir "t10k-labels-idx1-ubyte" (idx [ 2 ] [| 9uy; 1uy |]) |> ignore
                  refused "labels for 3 images" labels (fun () -> Mnist.Load(dir, false))))
          testCase "a missing MNIST folder names itself" (fun () ->
              refused "MNIST folder not found" "/nonexistent/mnist" (fun () -> Mnist.Load("/nonexistent/mnist", true))) ]

/// n images of c x h x w whose pixel values are all distinct and positive (image i, offset p -> i * size + p + 1),
/// labels i % 7.
let private distinct n c h w =
    let size = c * h * w
    LabelledImages(
        Array.init (n * size) (fun k -> float32 (k + 1)),
        Array.init n (fun i -> int64 (i % 7)),
        n,
        c,
        h,
        w,
        [ for k in 0..6 -> string k ]
    )

let private image (b: Batch) i =
    let size = b.Channels * b.Height * b.Width
    b.Images[i * size .. (i + 1) * size - 1]

let private source (set: LabelledImages) i = set.Images[i * set.ImageSize .. (i + 1) * set.ImageSize - 1]

let private transformTests =
    testList
        "transforms"
        [ test "a grey image repeated to 3 channels and padded to 4x5 keeps its pixels, centred, and its label" {
              let grey = distinct 2 1 2 3
              let fitted = grey.RepeatChannel(3).PadTo(4, 5)
              Expect.equal
                  (fitted.Count, fitted.Channels, fitted.Height, fitted.Width)
                  (2, 3, 4, 5)
                  "2 images of 3 x 4 x 5"
              Expect.equal fitted.Labels grey.Labels "labels kept"
              Expect.equal fitted.ClassNames grey.ClassNames "class names kept"
              // The 2 x 3 image sits at rows 1..2 and columns 1..3: the odd extra column goes to the right.
              let expected i c y x =
                  if y >= 1 && y <= 2 && x >= 1 && x <= 3 then grey.Images.[i * 6 + (y - 1) * 3 + (x - 1)] else 0f
              for i in 0..1 do
                  for c in 0..2 do
                      for y in 0..3 do
                          for x in 0..4 do
                              Expect.equal
                                  fitted.Images.[((i * 3 + c) * 4 + y) * 5 + x]
                                  (expected i c y x)
                                  $"image {i}, channel {c}, row {y}, column {x}"
          }
          test "only grey images repeat, and padding never shrinks" {
              rejects "only 1-channel images" (fun () -> (distinct 1 3 2 2).RepeatChannel 3)
              rejects "cannot be padded to the smaller 2x1" (fun () -> (distinct 1 1 2 2).PadTo(2, 1))
          } ]

let private loaderTests =
    let set = distinct 103 2 3 5
    testList
        "loader"
        [ testCase
              "each epoch visits a permutation of all images; shapes, labels and pixels follow the indices"
              (fun () ->
                  let loader = DataLoader(set, DataLoaderOptions(BatchSize = 10, Seed = 5L, Threads = 1))
                  Expect.equal loader.BatchCount 11 "ceil(103 / 10)"
                  for epoch in 0..2 do
                      let batches = loader.Epoch epoch |> Seq.toArray
                      Expect.sequenceEqual
                          (batches |> Array.map (fun b -> b.Count))
                          (Array.append (Array.create 10 10) [| 3 |])
                          "batch sizes"
                      let indices = batches |> Array.collect (fun b -> b.Indices)
                      Expect.sequenceEqual (Array.sort indices) [| 0..102 |] $"epoch {epoch} is a permutation"
                      Expect.sequenceEqual indices (loader.Order epoch) "batches follow Order"
                      for b in batches do
                          Expect.equal
                              (b.Channels, b.Height, b.Width, b.Images.Length)
                              (2, 3, 5, b.Count * 30)
                              "NCHW shape"
                          Expect.sequenceEqual b.Labels (b.Indices |> Array.map (fun i -> set.Labels[i])) "labels"
                          for i in 0 .. b.Count - 1 do
                              Expect.sequenceEqual (image b i) (source set b.Indices[i]) "untouched pixels")
          testCase
              "same seed same order; other epochs and seeds differ; no shuffle is the identity; drop-last"
              (fun () ->
                  let order seed epoch = DataLoader(set, DataLoaderOptions(BatchSize = 8, Seed = seed)).Order epoch
                  Expect.sequenceEqual (order 1L 0) (order 1L 0) "reproducible"
                  Expect.sequenceEqual (order 1L 3) (order 1L 3) "reproducible in a later epoch"
                  Expect.notEqual (order 1L 0) (order 1L 1) "epochs differ"
                  Expect.notEqual (order 1L 0) (order 2L 0) "seeds differ"
                  Expect.sequenceEqual
                      (DataLoader(set, DataLoaderOptions(Shuffle = false)).Order 4)
                      [| 0..102 |]
                      "identity"
                  let dropped = DataLoader(set, DataLoaderOptions(BatchSize = 10, DropLast = true))
                  let batches = dropped.Epoch 0 |> Seq.toArray
                  Expect.equal (batches.Length, dropped.BatchCount) (10, 10) "the short batch is dropped"
                  Expect.isTrue (batches |> Array.forall (fun b -> b.Count = 10)) "full batches only"
                  Expect.equal
                      (batches |> Array.collect (fun b -> b.Indices) |> Array.distinct |> Array.length)
                      100
                      "distinct images")
          testCase "augmented batches do not depend on threads, and BatchAt equals what Epoch yields" (fun () ->
              let big = distinct 300 3 16 16
              let make threads =
                  DataLoader(
                      big,
                      DataLoaderOptions(
                          BatchSize = 100,
                          Seed = 9L,
                          CropPadding = 3,
                          HorizontalFlip = true,
                          Threads = threads
                      )
                  )
              let one, four = make 1, make 4
              for epoch in 0..1 do
                  let a, b = Seq.toArray (one.Epoch epoch), Seq.toArray (four.Epoch epoch)
                  for i in 0 .. a.Length - 1 do
                      Expect.sequenceEqual b[i].Images a[i].Images $"epoch {epoch} batch {i}"
                      Expect.sequenceEqual (four.BatchAt(epoch, i)).Images a[i].Images "BatchAt")
          testCase
              "normalisation: a constant image maps to (v - mean) / std; dataset statistics give mean 0, std 1"
              (fun () ->
                  let constant =
                      LabelledImages(
                          Array.init 48 (fun k ->
                              if k < 16 then 0.25f
                              elif k < 32 then 0.5f
                              else 1.0f),
                          [| 0L |],
                          1,
                          3,
                          4,
                          4,
                          [ "a" ]
                      )
                  let mean, std = [| 0.4914f; 0.4822f; 0.4465f |], [| 0.2470f; 0.2435f; 0.2616f |]
                  let b = DataLoader(constant, DataLoaderOptions(Mean = mean, Std = std)).BatchAt(0, 0)
                  let expected = Array.init 48 (fun k -> let c = k / 16 in (constant.Images[k] - mean[c]) / std[c])
                  // float32 (v * (1/std) - mean/std) vs (v - mean) / std: a few ulps of values near 1.
                  closeTo 1e-6 1e-6 "normalised constant image" expected b.Images
                  let noise = DatasetSpec.Load "random:500:3x8x8:4"
                  let before = ChannelStatistics.Of noise
                  let all =
                      DataLoader(noise, DataLoaderOptions(BatchSize = 500, Mean = before.Mean, Std = before.Std))
                          .BatchAt(0, 0)
                  let stats =
                      ChannelStatistics.Of(LabelledImages(all.Images, noise.Labels, 500, 3, 8, 8, noise.ClassNames))
                  // Float32 accumulation of 32,000 values per channel: 1e-5 absolute is ~100x its rounding error.
                  closeTo 1e-5 0.0 "normalised means" (Array.zeroCreate 3) stats.Mean
                  closeTo 1e-5 1e-5 "normalised stds" (Array.create 3 1.0f) stats.Std)
          testCase "flip alone preserves each image's pixels, mirrored or not, and both happen" (fun () ->
              let b =
                  DataLoader(set, DataLoaderOptions(BatchSize = 103, Seed = 3L, HorizontalFlip = true)).BatchAt(0, 0)
              let mirror (img: float32[]) = Array.init img.Length (fun k -> img[k - k % 5 + 4 - k % 5])
              let flipped =
                  [ for i in 0 .. b.Count - 1 ->
                        let src, out = source set b.Indices[i], image b i
                        Expect.sequenceEqual (Array.sort out) (Array.sort src) "pixel multiset"
                        Expect.isTrue (out = src || out = mirror src) "identity or mirror"
                        out <> src ]
              Expect.isTrue (List.contains true flipped && List.contains false flipped) "both outcomes occur")
          testCase "crop with padding is a shift within the padding, zero-filled; padding 0 changes nothing" (fun () ->
              let noPad =
                  DataLoader(set, DataLoaderOptions(BatchSize = 103, CropPadding = 0, HorizontalFlip = false))
                      .BatchAt(0, 0)
              for i in 0 .. noPad.Count - 1 do
                  Expect.sequenceEqual (image noPad i) (source set noPad.Indices[i]) "padding 0"
              let pad = 2
              let b = DataLoader(set, DataLoaderOptions(BatchSize = 103, Seed = 8L, CropPadding = pad)).BatchAt(0, 0)
              let shift (src: float32[]) dy dx =
                  Array.init 30 (fun k ->
                      let c, y, x = k / 15, k % 15 / 5, k % 5
                      let sy, sx = y + dy, x + dx
                      if sy >= 0 && sy < 3 && sx >= 0 && sx < 5 then src[c * 15 + sy * 5 + sx] else 0.0f)
              let offsets =
                  [ for i in 0 .. b.Count - 1 ->
                        let src, out = source set b.Indices[i], image b i
                        let matches =
                            [ for dy in -pad .. pad do
                                  for dx in -pad .. pad do
                                      if shift src dy dx = out then
                                          (dy, dx) ]
                        Expect.isNonEmpty matches $"image {i} is a shifted copy"
                        matches.Head ]
              Expect.isGreaterThan (List.distinct offsets).Length 10 "many of the 25 offsets occur")
          testCase "bad options are refused naming the option" (fun () ->
              rejects "BatchSize is 0" (fun () -> DataLoader(set, DataLoaderOptions(BatchSize = 0)))
              rejects "Mean has 3 entries for 2 channels" (fun () ->
                  DataLoader(set, DataLoaderOptions(Mean = [| 0f; 0f; 0f |])))
              rejects "Std holds 0" (fun () -> DataLoader(set, DataLoaderOptions(Std = [| 1f; 0f |])))
              rejects "CropPadding is -1" (fun () -> DataLoader(set, DataLoaderOptions(CropPadding = -1)))
              rejects "batch 11 of an epoch of 11" (fun () ->
                  DataLoader(set, DataLoaderOptions(BatchSize = 10)).BatchAt(0, 11))) ]

let private specTests =
    testList
        "spec"
        [ testCase "well-formed specs parse" (fun () ->
              let parse = DatasetSpec.Parse
              Expect.equal (parse "cifar10:/a/b.bin") (DatasetSpec(DatasetSpec.Source.Cifar10, "/a/b.bin")) "cifar10"
              Expect.equal
                  (parse "cifar100:x:y.bin")
                  (DatasetSpec(DatasetSpec.Source.Cifar100, "x:y.bin"))
                  "a colon in the file"
              Expect.equal
                  (parse "fashion-mnist")
                  (DatasetSpec(DatasetSpec.Source.FashionMnist, null))
                  "default folder"
              Expect.equal
                  (parse "fashion-mnist:/d")
                  (DatasetSpec(DatasetSpec.Source.FashionMnist, "/d"))
                  "folder given"
              Expect.equal (parse "mnist:/m") (DatasetSpec(DatasetSpec.Source.Mnist, "/m")) "mnist"
              Expect.equal
                  (parse "random:7:3x4x5")
                  (DatasetSpec(DatasetSpec.Source.Random, null, 7, 3, 4, 5, 0L))
                  "random"
              Expect.equal (parse "random:7:1x2x2:-9").Seed -9L "seed")
          testCase "random data is seeded noise in [0, 1); cifar10:FILE loads the file" (fun () ->
              let a, b, c =
                  DatasetSpec.Load "random:20:3x4x4:1",
                  DatasetSpec.Load "random:20:3x4x4:1",
                  DatasetSpec.Load "random:20:3x4x4:2"
              Expect.equal (a.Count, a.Channels, a.Height, a.Width, a.Images.Length) (20, 3, 4, 4, 960) "shape"
              Expect.sequenceEqual a.Images b.Images "same seed"
              Expect.notEqual a.Images c.Images "other seed"
              Expect.isTrue (a.Images |> Array.forall (fun v -> v >= 0.0f && v < 1.0f)) "range"
              Expect.isTrue (a.Labels |> Array.forall (fun l -> l >= 0L && l < 10L)) "labels"
              Expect.equal (DatasetSpec.Load("cifar10:" + cifar10Test)).Count 10000 "cifar10 spec")
          testCase "malformed specs name the problem; missing files and folders are DatasetExceptions" (fun () ->
              for spec, fragment in
                  [ "", "empty dataset name"
                    "imagenet:/x", "unknown dataset 'imagenet'"
                    "cifar10", "cifar10 needs a FILE"
                    "mnist:", "mnist needs a DIR"
                    "fashion-mnist:", "needs a DIR"
                    "random:5", "N:CxHxW"
                    "random:0:1x2x2", "N '0'"
                    "random:5:1x2", "'1x2' is not CxHxW"
                    "random:5:1x0x2", "H '0'"
                    "random:5:1x2x2:abc", "SEED 'abc'"
                    "random:5:1x2x2:1:2", "N:CxHxW"
                    "random:100000:1000x1000x1000", "exceed the largest array" ] do
                  rejects fragment (fun () -> DatasetSpec.Parse spec)
              rejects "expected one of cifar10:FILE" (fun () -> DatasetSpec.Parse "bogus")
              Expect.throwsT<InputException>
                  (fun () -> DatasetSpec.Load "cifar10:/nonexistent/c.bin" |> ignore)
                  "missing file"
              Expect.throwsT<InputException>
                  (fun () -> DatasetSpec.Load "folder:/nonexistent/images" |> ignore)
                  "folder") ]

/// A 24-bit BMP of width x height whose pixel (x, y) is rgb x y: rows bottom-up in BGR order, each padded to 4 bytes.
let private bmp (width: int) (height: int) (rgb: int -> int -> byte * byte * byte) =
    let stride = (3 * width + 3) / 4 * 4
    let bytes = Array.zeroCreate<byte>(54 + stride * height)
    let put (offset: int) (value: int) = BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan offset, value)
    bytes[0] <- byte 'B'
    bytes[1] <- byte 'M'
    put 2 bytes.Length
    put 10 54
    put 14 40
    put 18 width
    put 22 height
    BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan 26, 1s)
    BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan 28, 24s)
    for y in 0 .. height - 1 do
        for x in 0 .. width - 1 do
            let r, g, b = rgb x y
            let o = 54 + (height - 1 - y) * stride + 3 * x
            bytes[o] <- b
            bytes[o + 1] <- g
            bytes[o + 2] <- r
    bytes

let private folderTests =
    testList
        "image folder"
        [ testCase "class folders in ordinal order, RGB planes scaled to [0, 1]" (fun () ->
              withTempDir (fun dir ->
                  let pixel (seed: int) x y = byte (seed + x), byte (10 * y), byte (200 - seed)
                  for cls, seeds in [ "dog", [ 5 ]; "cat", [ 1; 2 ] ] do
                      Directory.CreateDirectory(Path.Combine(dir, cls)) |> ignore
                      for s in seeds do
                          File.WriteAllBytes(Path.Combine(dir, cls, $"{s}.bmp"), bmp 3 2 (pixel s))
                  File.WriteAllText(Path.Combine(dir, "cat", "notes.txt"), "not an image")
                  let set = DatasetSpec.Load("folder:" + dir)
                  Expect.sequenceEqual set.ClassNames [ "cat"; "dog" ] "classes"
                  Expect.sequenceEqual set.Labels [| 0L; 0L; 1L |] "labels follow the folders"
                  Expect.equal (set.Count, set.Channels, set.Height, set.Width) (3, 3, 2, 3) "shape"
                  for i, s in [ 0, 1; 1, 2; 2, 5 ] do
                      for y in 0..1 do
                          for x in 0..2 do
                              let r, g, b = pixel s x y
                              for c, v in [ 0, r; 1, g; 2, b ] do
                                  Expect.equal
                                      set.Images[((i * 3 + c) * 2 + y) * 3 + x]
                                      (float32 v / 255.0f)
                                      $"image {i} channel {c} ({x}, {y})"))
          testCase "undecodable images, mixed sizes and empty folders name the problem" (fun () ->
              withTempDir (fun dir ->
                  let cls = Path.Combine(dir, "a")
                  Directory.CreateDirectory cls |> ignore
                  refused "no images" dir (fun () -> ImageFolder.Load dir)
                  File.WriteAllBytes(Path.Combine(cls, "1.bmp"), bmp 2 2 (fun _ _ -> 1uy, 2uy, 3uy))
                  File.WriteAllBytes(Path.Combine(cls, "2.bmp"), bmp 3 2 (fun _ _ -> 1uy, 2uy, 3uy))
                  refused "but the first image" (Path.Combine(cls, "2.bmp")) (fun () -> ImageFolder.Load dir)
                  File.WriteAllBytes(Path.Combine(cls, "2.bmp"), [| 0x89uy; 0x50uy; 0x4Euy; 0x47uy; 1uy; 2uy |])
                  refused "cannot decode" (Path.Combine(cls, "2.bmp")) (fun () -> ImageFolder.Load dir)
                  refused "no class sub-folders" cls (fun () -> ImageFolder.Load cls))) ]

[<Tests>]
let tests =
    testList
        "data"
        [ idxTests
          fashionMnistTests
          tensorInputTests
          cifarTests
          mnistTests
          transformTests
          loaderTests
          specTests
          folderTests ]
