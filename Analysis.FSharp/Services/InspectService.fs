/// `inspect`: what is inside a model, from headers (Inspect) or as an abstract architecture (Extract), as result records.
module Hybrid.Analysis.InspectService

open System.Collections.Generic
open System.Text.Json.Serialization
open Hybrid.Analysis.Architecture

/// The module depths `inspect` accepts.
let MaxDepth = 64

type TensorResult =
    { Name: string
      [<JsonPropertyName "dtype">]
      DType: string
      Shape: int64[] }

/// One module of the hierarchy; its nesting is the number of dots in its path.
type ModuleResult = { Path: string; Tensors: int; Parameters: int64 }

/// The headers of a model file or folder.
type HeadersResult =
    {
        Path: string
        Format: string
        Files: string list
        ModelType: string option
        Architectures: string list
        Parameters: int64
        BufferElements: int64
        /// Operator types and their counts, most frequent first (graph formats only).
        Operators: IDictionary<string, int>
        Tensors: TensorResult list
        /// Every module to the depth asked, parents before their children.
        Modules: ModuleResult list
    }

/// Reads the headers at path and its module tree to depth (0..MaxDepth).
let headers (path: string) (depth: int) =
    if depth < 0 || depth > MaxDepth then
        Input.fail "inspect: --depth %d is outside 0..%d" depth MaxDepth
    let report = Inspect.read path
    let rec flatten (node: Inspect.ModuleNode) =
        [ for child in node.Children do
              yield { ModuleResult.Path = child.Path; Tensors = child.Tensors; Parameters = child.Parameters }
              yield! flatten child ]
    { Path = report.Path
      Format = report.Format
      Files = report.Files
      ModelType = report.ModelType
      Architectures = report.Architectures
      Parameters = report.Parameters
      BufferElements = report.BufferElements
      Operators = dict report.Operators
      Tensors = [ for t in report.Tensors -> { Name = t.Name; DType = t.DType; Shape = t.Shape } ]
      Modules = flatten (Inspect.modules depth report.Tensors) }

/// The figures of one abstract architecture.
type GraphResult =
    {
        Name: string
        Format: string
        ModelType: string option
        Architectures: string list
        Task: string option
        Nodes: int
        Edges: int
        /// Operators of the source format and their counts, by name.
        Ops: IDictionary<string, int>
        /// Normalised layer types and their counts, by name.
        LayerTypes: IDictionary<string, int>
        MaxDepth: int
        Modules: int
        Parameters: int64
        Pruned: string list
    }

/// Several architectures (a trace file, a hub cache).
type GraphsResult = { Architectures: GraphResult list }

/// The figures of an architecture.
let graphResult (a: Architecture) =
    { Name = a.Name
      Format = a.Format
      ModelType = a.Labels.ModelType
      Architectures = a.Labels.Architectures
      Task = a.Labels.Task
      Nodes = a.Nodes.Length
      Edges = a.Edges.Length
      Ops = dict [ for KeyValue(op, n) in a.OriginalOps -> op, n ]
      LayerTypes = dict (a.LayerSequence |> Array.countBy id |> Array.sortBy fst)
      MaxDepth = a.MaxDepth
      Modules = a.Hierarchy.Length
      Parameters = a.ParameterCount
      Pruned = a.Pruned }
