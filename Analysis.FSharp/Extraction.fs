/// Extraction in batches (`hybrid extract`): find the model files and folders under the paths given, skip those whose
/// content is already catalogued, extract the rest and store each in its own transaction. One failure is reported
/// and the rest go on.
module Hybrid.Analysis.Extraction

open System
open System.IO
open System.Security.Cryptography
open System.Threading.Tasks
open Hybrid.Analysis.Architecture

/// What became of one file or folder.
type Outcome =
    /// Extracted and stored under these model ids, with these names.
    | Stored of path: string * ids: int64 list * names: string list
    /// Content with the same hash was already catalogued, under these ids.
    | Skipped of path: string * ids: int64 list
    /// Not stored; the message names the path and the problem.
    | Failed of path: string * message: string

    member o.Path =
        match o with
        | Stored(p, _, _)
        | Skipped(p, _)
        | Failed(p, _) -> p

/// Reported after each file: how many of the total are done, and the latest outcome.
type Progress = { Done: int; Total: int; Outcome: Outcome }

/// A Hugging Face model folder (config.json beside the weights) or a hub cache entry (models--org--name): one model.
let isModelFolder (dir: string) =
    File.Exists(Path.Combine(dir, "config.json"))
    || Path.GetFileName(Path.TrimEndingDirectorySeparator dir).StartsWith "models--"

let private isModelFile (file: string) =
    let name = Path.GetFileName file
    ModelFiles.walkedExtensions.Contains(Path.GetExtension(name).ToLowerInvariant())
    || (name.StartsWith "pytorch_model" && name.EndsWith ".bin")

/// The models to extract under each path: a file as it is; a model folder as one model; another folder's model files
/// and model folders, descending into sub-folders with recursive. A path with none gives a Failed outcome.
let discover (recursive: bool) (paths: string list) =
    let rec walk (dir: string) =
        [ for f in Directory.EnumerateFiles dir |> Seq.sort do
              if isModelFile f then
                  f
          for d in Directory.EnumerateDirectories dir |> Seq.sort do
              if isModelFolder d then
                  d
              elif recursive then
                  yield! walk d ]
    [ for p in paths do
          if File.Exists p || Extract.isZoo p then
              Ok p
          elif Directory.Exists p then
              if isModelFolder p then
                  Ok p
              else
                  match walk p with
                  | [] ->
                      let where =
                          if recursive then
                              "in it or its sub-folders"
                          else
                              "in it (add --recursive to look in sub-folders)"
                      Error(Failed(p, $"{p}: no model files or model folders {where}"))
                  | found -> yield! found |> List.map Ok
          else
              Error(Failed(p, $"{p}: no such file or folder")) ]

/// SHA-256 of a file's bytes, or of a folder's files in ordinal order of their relative paths (each path, its length
/// and its bytes enter the hash, so renaming or moving a file changes it), as lowercase hex. A zoo model's structure is
/// defined by our code, so its hash covers the name and the version of Core.Nn.
let contentHash (path: string) =
    use hash = IncrementalHash.CreateHash HashAlgorithmName.SHA256
    let add (file: string) =
        use stream = File.OpenRead file
        let buffer = Array.zeroCreate<byte>(1 <<< 16)
        let mutable n = stream.Read(buffer, 0, buffer.Length)
        while n > 0 do
            hash.AppendData(buffer, 0, n)
            n <- stream.Read(buffer, 0, buffer.Length)
    if Extract.isZoo path then
        let version = typeof<Hybrid.Core.Nn.Zoo.SmallCnn>.Assembly.GetName().Version
        hash.AppendData(Text.Encoding.UTF8.GetBytes($"{path}@{version}"))
    elif Directory.Exists path then
        let files =
            Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
            |> Seq.map (fun f -> Path.GetRelativePath(path, f).Replace('\\', '/'), f)
            |> Seq.sortWith (fun (a, _) (b, _) -> String.CompareOrdinal(a, b))
        for relative, file in files do
            hash.AppendData(Text.Encoding.UTF8.GetBytes(relative + "\000"))
            hash.AppendData(BitConverter.GetBytes(FileInfo(file).Length))
            add file
    else
        add path
    Convert.ToHexStringLower(hash.GetHashAndReset())

/// The message of a failure, naming the path once (the readers' own messages already begin with it).
let describe (path: string) (e: exn) =
    let e =
        match e with
        | :? AggregateException as a when a.InnerExceptions.Count = 1 -> a.InnerException
        | e -> e
    if e.Message.Contains path then e.Message else $"{path}: {e.Message}"

/// Extracts the models under paths into the catalog. Hashing and extraction of a chunk of files run in parallel; the
/// catalog is read and written on the calling thread, which also receives every progress report, in path order.
/// task, when given, is stored as every model's task. Returns one outcome per file or folder.
let run
    (catalog: ICatalog)
    (task: string option)
    (recursive: bool)
    (paths: string list)
    (onProgress: Progress -> unit)
    =
    let found = discover recursive paths
    let total = found.Length
    let outcomes = ResizeArray<Outcome>()
    let report outcome =
        outcomes.Add outcome
        onProgress { Done = outcomes.Count; Total = total; Outcome = outcome }
    let chunk = max 1 (2 * Environment.ProcessorCount)
    for batch in found |> List.chunkBySize chunk do
        let files =
            batch
            |> List.choose (function
                | Ok f -> Some f
                | Error _ -> None)
            |> Array.ofList
        let hashes = Array.zeroCreate<Result<string, string>> files.Length
        Parallel.For(
            0,
            files.Length,
            fun i ->
                hashes[i] <-
                    try
                        Ok(contentHash files[i])
                    with e ->
                        Error(describe files[i] e)
        )
        |> ignore
        let known =
            hashes
            |> Array.map (function
                | Ok h -> Catalog.tryFindByHash catalog h
                | Error _ -> None)
        let extracted = Array.zeroCreate<Result<Architecture list, string>> files.Length
        Parallel.For(
            0,
            files.Length,
            fun i ->
                if hashes[i].IsOk && known[i].IsNone then
                    extracted[i] <-
                        try
                            match Extract.fromPath files[i] with
                            | [] -> Error $"{files[i]}: holds no model"
                            | archs -> Ok archs
                        with e ->
                            Error(describe files[i] e)
        )
        |> ignore
        let mutable next = 0
        for item in batch do
            match item with
            | Error failed -> report failed
            | Ok file ->
                let i = next
                next <- next + 1
                match hashes[i], known[i] with
                | Error message, _ -> report (Failed(file, message))
                | Ok _, Some ids -> report (Skipped(file, ids))
                | Ok hash, None ->
                    match extracted[i] with
                    | Error message -> report (Failed(file, message))
                    | Ok archs ->
                        // Two copies of one file in the same chunk: the first stored wins, the second is a skip.
                        match Catalog.tryFindByHash catalog hash with
                        | Some ids -> report (Skipped(file, ids))
                        | None ->
                            try
                                let ids =
                                    Catalog.insertAll
                                        catalog
                                        { ModelSource.Path = file; ModelSource.Hash = hash }
                                        task
                                        archs
                                report (Stored(file, ids, archs |> List.map _.Name))
                            with e ->
                                report (Failed(file, describe file e))
    List.ofSeq outcomes
