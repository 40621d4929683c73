module Hybrid.Tests.CheckpointTests

open System
open System.IO
open System.IO.Compression
open System.Text
open Expecto
open Hybrid.Core.Nn.Formats.PyTorch

// ---------------------------------------------------------------------------------------------------
// Helpers

let private models = [ "cifar10-resnet20", "resnet20-12fca82f.th"; "cifar10-resnet32", "resnet32-d509ac18.th" ]

/// The key counts ../shared/README.md states for ResNet-20; ResNet-32 is checked against its safetensors file.
let private resnet20Counts = 97, 116

let private trackedCount (reference: SafetensorsFile) =
    reference.Tensors |> Seq.filter (fun t -> t.Name.EndsWith "num_batches_tracked") |> Seq.length

let private legacyPath (folder, file) = sharedFile (sprintf "models/%s/%s" folder file)
let private zipPath (folder, _) = sharedFile (sprintf "models/%s/model.pt" folder)
let private safetensorsPath (folder, _) = sharedFile (sprintf "models/%s/model.safetensors" folder)

/// Every tensor of the state dict must equal the same-named safetensors tensor: dtype, shape and every byte.
let private equalsSafetensors (state: TorchStateDict) (reference: SafetensorsFile) =
    for tensor in state.Tensors do
        Expect.isTrue (reference.Contains tensor.Name) (sprintf "%s: safetensors has no '%s'" state.Path tensor.Name)
        let entry = reference.Entry tensor.Name
        Expect.equal tensor.DType entry.DType (sprintf "dtype of %s" tensor.Name)
        // PyTorch's num_batches_tracked is a scalar (shape []); model.safetensors stores it as shape [1].
        let shape = if tensor.Shape.Length = 0 && entry.Shape = [| 1L |] then [| 1L |] else tensor.Shape
        Expect.equal shape entry.Shape (sprintf "shape of %s" tensor.Name)
        Expect.isTrue
            (tensor.Data.AsSpan().SequenceEqual(reference.DataSpan tensor.Name))
            (sprintf "bytes of %s" tensor.Name)

/// Loading must fail with one InputException naming the file and containing every fragment.
let private expectRefused (path: string) (fragments: string list) =
    let e = throwsOf<InputException>(fun () -> TorchCheckpoint.Load path |> ignore)
    Expect.stringContains e.Message path "the message names the file"
    for fragment in fragments do
        Expect.stringContains e.Message fragment "the message names the problem"

/// A tiny pickle assembler: opcodes and their arguments, as torch.save would write them.
let private pickle (parts: obj list) =
    use out = new MemoryStream()
    for part in parts do
        match part with
        | :? string as s when s.StartsWith "op:" ->
            let bytes = Encoding.Latin1.GetBytes(s.Substring 3)
            out.Write(bytes, 0, bytes.Length)
        | :? string as s ->
            let bytes = Encoding.UTF8.GetBytes s
            out.WriteByte(byte 'X')
            out.Write(BitConverter.GetBytes(bytes.Length), 0, 4)
            out.Write(bytes, 0, bytes.Length)
        | :? int as n ->
            out.WriteByte(byte 'K')
            out.WriteByte(byte n)
        | other -> failwithf "pickle: cannot write %A" other
    out.ToArray()

/// A zip checkpoint whose state dict is {name: _rebuild_tensor_v2(storage 0, offset, shape, strides)} over
/// `storage` float32 elements 0, 1, 2, ...
let private writeZip
    (path: string)
    (globalName: string)
    (offset: int)
    (shape: int list)
    (strides: int list)
    (storage: int)
    =
    let dims (values: int list) = [ box "op:(" ] @ (values |> List.map box) @ [ box "op:t" ]
    let data =
        pickle (
            [ box "op:\x80\x02}"
              box "t"
              box (sprintf "op:c%s\n" globalName)
              box "op:(("
              box "storage"
              box "op:ctorch\nFloatStorage\n"
              box "0"
              box "cpu"
              box storage
              box "op:tQ"
              box offset ]
            @ dims shape
            @ dims strides
            @ [ box "op:\x89ccollections\nOrderedDict\n)Rt"; box "op:Rs." ]
        )
    use zip = ZipFile.Open(path, ZipArchiveMode.Create)
    let write (name: string) (bytes: byte[]) =
        use stream = zip.CreateEntry(name, CompressionLevel.NoCompression).Open()
        stream.Write(bytes, 0, bytes.Length)
    write "archive/data.pkl" data
    write "archive/data/0" (Array.init storage float32 |> Array.collect BitConverter.GetBytes)

/// Runs `work` in a background task with a generous bound: a hang fails the test instead of blocking the suite.
let private withinBound (what: string) (seconds: float) (work: unit -> unit) =
    let task = Threading.Tasks.Task.Run(work)
    if not (task.Wait(TimeSpan.FromSeconds seconds)) then
        failtestf "%s did not finish within %g s: a hang" what seconds

/// Loads the input and accepts either success or a InputException; any other exception fails.
let private cleanOutcome (path: string) (label: string) =
    try
        TorchCheckpoint.Load path |> ignore
    with
    | :? InputException as e -> Expect.stringContains e.Message path (sprintf "%s: the error names the file" label)
    | e -> failtestf "%s: %s escaped instead of InputException: %s" label (e.GetType().Name) e.Message

// ---------------------------------------------------------------------------------------------------
// Tests

[<Tests>]
let realCheckpoints =
    testList
        "checkpoint/real"
        [ for model in models do
              let name = fst model
              test (sprintf "%s legacy .th: cuda:0 tensors equal to model.safetensors bit for bit" name) {
                  let state = TorchCheckpoint.Load(legacyPath model)
                  use reference = SafetensorsFile.Open(safetensorsPath model)
                  Expect.equal state.Format CheckpointFormat.Legacy "legacy format detected"
                  Expect.equal
                      state.Count
                      (reference.Tensors.Count - trackedCount reference)
                      "every key but num_batches_tracked"
                  if name = "cifar10-resnet20" then
                      Expect.equal state.Count (fst resnet20Counts) "97 keys (README)"
                  Expect.isTrue (state.Names |> Seq.forall (fun n -> n.StartsWith "module.")) "every key has module."
                  Expect.isTrue (state.Tensors |> Seq.forall (fun t -> t.SavedLocation = "cuda:0")) "saved on cuda:0"
                  let stripped = state.WithoutPrefix()
                  Expect.isFalse (stripped.Names |> Seq.exists (fun n -> n.StartsWith "module.")) "prefix removed"
                  Expect.isFalse
                      (stripped.Names |> Seq.exists (fun n -> n.EndsWith "num_batches_tracked"))
                      "old BatchNorm state"
                  equalsSafetensors stripped reference
              }
              test (sprintf "%s zip model.pt: tensors equal to model.safetensors bit for bit" name) {
                  let state = TorchCheckpoint.Load(zipPath model)
                  use reference = SafetensorsFile.Open(safetensorsPath model)
                  Expect.equal state.Format CheckpointFormat.Zip "zip format detected"
                  Expect.equal state.Count reference.Tensors.Count "as many keys as model.safetensors"
                  if name = "cifar10-resnet20" then
                      Expect.equal state.Count (snd resnet20Counts) "116 keys (README)"
                  Expect.equal
                      (Set.ofSeq state.Names)
                      (reference.Tensors |> Seq.map (fun t -> t.Name) |> Set.ofSeq)
                      "same keys"
                  equalsSafetensors (state.WithoutPrefix()) reference
                  let tracked = state["layer1.0.bn1.num_batches_tracked"]
                  Expect.equal tracked.DType Hybrid.Core.Nn.Formats.DType.I64 "num_batches_tracked is int64"
                  Expect.equal
                      (tracked.ReadInt64())
                      (reference.ReadInt64 "layer1.0.bn1.num_batches_tracked")
                      "int values"
                  Expect.equal
                      (state["conv1.weight"].ReadFloat32())
                      (reference.ReadFloat32 "conv1.weight")
                      "float values"
              } ]

[<Tests>]
let hostile =
    testList
        "checkpoint/hostile"
        [ for file in [ "os_system.pt"; "os_system_legacy.pt" ] do
              test (sprintf "%s is refused naming posix.system, and runs nothing" file) {
                  let pwned = "/tmp/hybrid-pwned"
                  if File.Exists pwned then
                      failtestf "%s exists before the test; remove it and rerun" pwned
                  expectRefused (sharedFile ("fixtures/hostile/" + file)) [ "posix.system" ]
                  Expect.isFalse (File.Exists pwned) "the hostile command never ran"
              }
          testWithTempFile "a STACK_GLOBAL builtins.eval is refused by name" "eval.pt" (fun path ->
              File.WriteAllBytes(
                  path,
                  pickle [ box "op:\x80\x04"; box "builtins"; box "eval"; box "op:\x93"; box "1+1"; box "op:\x85R." ]
              )
              expectRefused path [ "builtins.eval" ]) ]

[<Tests>]
let layouts =
    testList
        "checkpoint/layout"
        [ testWithTempFile
              "a transposed tensor is materialised row-major, with its saved strides reported"
              "transposed.pt"
              (fun path ->
                  writeZip path "torch._utils\n_rebuild_tensor_v2" 0 [ 3; 2 ] [ 1; 3 ] 6
                  let t = (TorchCheckpoint.Load path)["t"]
                  Expect.equal t.Shape [| 3L; 2L |] "shape"
                  Expect.equal t.Strides [| 1L; 3L |] "saved strides"
                  Expect.equal
                      (t.ReadFloat32())
                      [| 0.0f; 3.0f; 1.0f; 4.0f; 2.0f; 5.0f |]
                      "the transpose of [[0,1,2],[3,4,5]]")
          testWithTempFile "a strided view with an offset reads the right elements" "strided.pt" (fun path ->
              writeZip path "torch._utils\n_rebuild_tensor_v2" 1 [ 2 ] [ 2 ] 6
              let t = (TorchCheckpoint.Load path)["t"]
              Expect.equal t.StorageOffset 1L "offset"
              Expect.equal (t.ReadFloat32()) [| 1.0f; 3.0f |] "elements 1 and 3")
          testWithTempFile "a view that reaches past its storage is refused" "outside.pt" (fun path ->
              writeZip path "torch._utils\n_rebuild_tensor_v2" 2 [ 3 ] [ 2 ] 6
              expectRefused path [ "reaches element 6" ]) ]

[<Tests>]
let fuzz =
    testList
        "checkpoint/fuzz"
        [ for model in models |> List.take 1 do
              for format, source in [ "legacy", legacyPath model; "zip", zipPath model ] do
                  test (sprintf "truncated and mutated %s copies give only InputException" format) {
                      let original = File.ReadAllBytes source
                      // The pickle is where parsing decisions are made: the legacy object pickle fills the first
                      // ~12 KB, the zip's data.pkl the first ~14 KB, so most mutations land there.
                      let hot = min original.Length 16384
                      let rng = Random(4242)
                      withTempDir (fun dir ->
                          let path = Path.Combine(dir, "mutated.pt")
                          withinBound (sprintf "%s fuzzing" format) 120.0 (fun () ->
                              for i in 0..39 do
                                  let length = if i < 30 then rng.Next(hot) else rng.Next(original.Length)
                                  File.WriteAllBytes(path, original.AsSpan(0, length).ToArray())
                                  cleanOutcome path (sprintf "truncated to %d bytes" length)
                              for i in 0..299 do
                                  let copy = Array.copy original
                                  let changes = 1 + rng.Next 4
                                  for _ in 1..changes do
                                      let at = if rng.Next 10 < 9 then rng.Next hot else rng.Next copy.Length
                                      copy.[at] <-
                                          match rng.Next 4 with
                                          | 0 -> 0xffuy
                                          | 1 -> 0uy
                                          | _ -> byte (rng.Next 256)
                                  File.WriteAllBytes(path, copy)
                                  cleanOutcome path (sprintf "mutation %d" i)))
                  } ]
