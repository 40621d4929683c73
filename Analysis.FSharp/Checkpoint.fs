/// Resumable runs keep everything they need in one safetensors file: named parts of tensors (a model's state, an
/// optimiser's, ...) under `prefix.` keys, and text metadata (the options, the epochs done). The file is replaced
/// atomically, so a crash leaves the previous one.
module Hybrid.Analysis.Checkpoint

open System.Collections.Generic
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Formats
open Hybrid.Core.Nn.Formats.Safetensors

/// Writes the parts (prefix, tensors by key) and the metadata to path.
let write (path: string) (parts: (string * seq<string * Tensor>) list) (metadata: (string * string) list) =
    let state =
        [ for prefix, tensors in parts do
              for key, value in tensors -> struct (prefix + "." + key, value) ]
    StateDicts.SaveSafetensors(path, ResizeArray state, readOnlyDict metadata)

/// A module's state as a checkpoint part.
let moduleState (m: Modules.Module) = m.StateDict() |> Seq.map (fun struct (k, v) -> k, v)

/// An optimiser's (or scheduler's) state dictionary as a checkpoint part.
let dictState (d: IReadOnlyDictionary<string, Tensor>) = d |> Seq.map (fun kv -> kv.Key, kv.Value)

/// What a checkpoint holds: the tensors of one part by key (empty when the part is absent), and the metadata.
type Saved = { Part: string -> Dictionary<string, Tensor>; Metadata: IReadOnlyDictionary<string, string> }

/// Reads a checkpoint written by `write`.
let read (path: string) =
    let state = StateDicts.Load path
    use file = SafetensorsFile.Open path
    let metadata = Dictionary(file.Metadata) :> IReadOnlyDictionary<_, _>
    let part (prefix: string) =
        let p = prefix + "."
        state
        |> Seq.filter (fun kv -> kv.Key.StartsWith p)
        |> Seq.map (fun kv -> KeyValuePair(kv.Key.Substring p.Length, kv.Value))
        |> Dictionary
    { Part = part; Metadata = metadata }
