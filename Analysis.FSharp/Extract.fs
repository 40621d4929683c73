/// One entry point for abstract architectures: a path is read according to what it is (an ONNX graph, a JSON Lines
/// trace file, a safetensors file, a PyTorch checkpoint, a Hugging Face model folder, a hub cache entry or a hub cache
/// holding several), a zoo name is traced. Nothing in a model file runs.
module Hybrid.Analysis.Extract

open System.IO
open Hybrid.Core.Nn
open Hybrid.Analysis.Architecture

/// A folder that holds models rather than being one: a hub cache (models--org--name entries, no config.json).
let private cacheEntries (dir: string) =
    if File.Exists(Path.Combine(dir, "config.json")) || Directory.Exists(Path.Combine(dir, "snapshots")) then
        []
    else
        Directory.GetDirectories(dir, "models--*") |> Array.sort |> List.ofArray

/// Paths of the form zoo:NAME name a model of our zoo (Core.Nn.Zoo), traced rather than read.
let zooPrefix = "zoo:"

let isZoo (path: string) = path.StartsWith(zooPrefix, System.StringComparison.Ordinal)

/// Every architecture at `path` (a file, a folder or zoo:NAME), each as a result: a JSON Lines file gives one per line (a broken line is an
/// InputException naming the file and line, the other lines still read); any other source gives one, or the
/// error that stopped it (an InputException naming the file). A path that does not exist or
/// is no kind of model raises InputException.
let rec results (path: string) : Result<Architecture, exn> list =
    let attempt read =
        try
            Ok(read path)
        with :? Hybrid.Core.Nn.InputException as e ->
            Error(e :> exn)
    // An unknown zoo name is the user's mistake; the zoo refuses it with ArgumentException, listing the known names.
    if isZoo path then
        [ attempt (fun p -> Input.guard p (fun () -> FromModule.ofZoo (p.Substring zooPrefix.Length))) ]
    elif Directory.Exists path then
        match cacheEntries path with
        | [] -> [ attempt FromStateDict.read ]
        | entries -> entries |> List.collect results
    elif File.Exists path then
        match Path.GetExtension(path).ToLowerInvariant() with
        | ".onnx" -> [ attempt FromOnnx.read ]
        | ".jsonl" -> FromTraces.readAll path
        | ext when ModelFiles.weightExtensions.Contains ext -> [ attempt FromStateDict.read ]
        | ext ->
            raise (
                InputException(
                    path,
                    $"cannot tell what model a '{ext}' file holds; architectures are read from .onnx, .jsonl (traces), .safetensors, PyTorch checkpoints {ModelFiles.checkpointList}, Hugging Face folders and hub cache entries"
                )
            )
    else
        raise (InputException(path, "no such file or folder"))

/// Every architecture at `path` (see results); the first error raises (strict reading).
let fromPath (path: string) : Architecture list =
    results path
    |> List.map (function
        | Ok a -> a
        | Error e -> raise e)
