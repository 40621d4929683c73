/// `hybrid bench fuzz`: every reader of untrusted files against mutated copies of real files. Each input must either
/// load or fail with the reader's own exception (one clear message naming the file); anything else (another exception
/// type, a crash, a read that does not finish) is a defect, and the input is kept for reproduction.
module Hybrid.Bench.FuzzBench

open System
open System.IO
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Data
open Hybrid.Core.Nn.Formats
open Hybrid.Analysis.FuzzReport

/// A reader under test: a real file to mutate, how to read a file completely, and which exceptions are clean.
type Target = { Format: string; Seed: string; Read: string -> unit; IsClean: exn -> bool }

/// Reads every tensor of a safetensors file (header, offsets and every value conversion).
let private readSafetensors (path: string) =
    use file = Safetensors.SafetensorsFile.Open path
    for t in file.Tensors do
        if t.DType.IsFloatingPoint() then
            file.ReadFloat64 t.Name |> ignore
        else
            file.DataSpan(t.Name).ToArray() |> ignore

let private readIdx (path: string) = (IdxFile.Read path).ToFloat32() |> ignore

let private readOnnx (path: string) = Onnx.Reader.OnnxModel.Load path |> ignore

let private readCheckpoint (path: string) =
    for t in (PyTorch.TorchCheckpoint.Load path).Tensors do
        if t.DType.IsFloatingPoint() then
            t.ReadFloat64() |> ignore

/// `../shared` beside the repository that holds the running program, where the project's real model files are.
let sharedDir () =
    let rec up (dir: DirectoryInfo | null) =
        match dir with
        | null -> None
        | d when File.Exists(Path.Combine(d.FullName, "Hybrid.sln")) ->
            let shared = Path.GetFullPath(Path.Combine(d.FullName, "..", "shared"))
            if Directory.Exists shared then Some shared else None
        | d -> up d.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

/// The readers with a real file each; a reader whose file is missing on this machine is left out.
let targets (sharedDir: string option) =
    // Each reader refuses a broken file with the one user-facing error; anything else escaping is a defect.
    let target format seed read =
        { Format = format; Seed = seed; Read = read; IsClean = (fun e -> e :? InputException) }
    let resnet20 =
        [ "safetensors", "model.safetensors", readSafetensors
          "pytorch zip", "model.pt", readCheckpoint
          "pytorch legacy", "resnet20-12fca82f.th", readCheckpoint
          "onnx", "model.onnx", readOnnx ]
    [ for dir in Option.toList sharedDir do
          for format, file, read in resnet20 ->
              target format (Path.Combine(dir, "models", "cifar10-resnet20", file)) read
      yield target "idx (gzip)" (Path.Combine(FashionMnist.DefaultDirectory, "t10k-labels-idx1-ubyte.gz")) readIdx ]
    |> List.filter (fun t -> File.Exists t.Seed)

/// One mutation of bytes: bit flips, overwritten or inserted bytes, a truncation, a duplicated run, or an extreme
/// integer written over a field. Half of the mutations land in the first 16 KiB, where headers, pickles and
/// directories are, and an eighth in the last 4 KiB (zip central directories).
let mutate (random: Random) (original: byte[]) =
    let bytes = ResizeArray original
    let position () =
        match random.Next 8 with
        | 0
        | 1
        | 2
        | 3 -> random.Next(min bytes.Count 16384 |> max 1)
        | 4 -> max 0 (bytes.Count - 1 - random.Next(min bytes.Count 4096 |> max 1))
        | _ -> random.Next(max bytes.Count 1)
    for _ in 1 .. 1 + random.Next 3 do
        if bytes.Count > 0 then
            match random.Next 6 with
            | 0 -> let p = position () in bytes[p] <- bytes[p] ^^^ byte (1 <<< random.Next 8)
            | 1 -> let p = position () in bytes[p] <- byte (random.Next 256)
            | 2 -> bytes.InsertRange(position (), Array.init (1 + random.Next 16) (fun _ -> byte (random.Next 256)))
            | 3 -> let p = position () in bytes.RemoveRange(p, bytes.Count - p)
            | 4 ->
                let p = position ()
                let n = min (1 + random.Next 64) (bytes.Count - p)
                bytes.InsertRange(p, bytes.GetRange(p, n))
            | _ ->
                let p = position ()
                let extreme =
                    [| 0L; -1L; 0x7FFFFFFFL; 0xFFFFFFFFL; Int64.MaxValue; Int64.MinValue; 1L <<< 40 |][random.Next 7]
                let field = BitConverter.GetBytes extreme
                for i in 0 .. min 7 (bytes.Count - p - 1) do
                    bytes[p + i] <- field[i]
    bytes.ToArray()

/// Runs count mutated inputs through one reader, each with a time limit; inputs behind defects are kept.
let run (target: Target) (count: int) (seed: int) (limit: TimeSpan) (progress: string -> unit) =
    let original = File.ReadAllBytes target.Seed
    let random = Random seed
    let scratch = Directory.CreateTempSubdirectory("hybrid-fuzz-").FullName
    let input = Path.Combine(scratch, "input" + Path.GetExtension target.Seed)
    let kept = Path.Combine(scratch, "kept")
    let mutable loaded, clean, defects, hangs = 0, 0, 0, 0
    let mutable firstDefect = None
    let keep (i: int) (bytes: byte[]) (what: string) =
        Directory.CreateDirectory kept |> ignore
        File.WriteAllBytes(Path.Combine(kept, $"{i:D6}{Path.GetExtension target.Seed}"), bytes)
        if firstDefect.IsNone then
            firstDefect <- Some $"input {i}: {what}"
    let clock = Diagnostics.Stopwatch.StartNew()
    for i in 0 .. count - 1 do
        let bytes = mutate random original
        File.WriteAllBytes(input, bytes)
        let read = Threading.Tasks.Task.Run(fun () -> target.Read input)
        let finished =
            try
                read.Wait limit
            with _ ->
                true
        if not finished then
            hangs <- hangs + 1
            keep i bytes $"no result within {limit.TotalSeconds} s"
        else
            match read.Exception with
            | null -> loaded <- loaded + 1
            | aggregate ->
                let e = aggregate.GetBaseException()
                if target.IsClean e && not (String.IsNullOrWhiteSpace e.Message) && e.Message.Contains input then
                    clean <- clean + 1
                else
                    defects <- defects + 1
                    keep i bytes $"{e.GetType().Name}: {e.Message}"
        if (i + 1) % 10000 = 0 then
            progress $"{target.Format}: {i + 1} of {count} inputs"
    File.Delete input
    let keptDir =
        if defects + hangs > 0 then
            Some kept
        else
            (Directory.Delete(scratch, true)
             None)
    { FuzzCase.Format = target.Format
      SeedFile = target.Seed
      Inputs = count
      Loaded = loaded
      CleanErrors = clean
      Defects = defects
      Hangs = hangs
      Seconds = clock.Elapsed.TotalSeconds
      Kept = keptDir
      FirstDefect = firstDefect }
