/// Structure statistics over a set of models (the Deep_NN_Structure measures, ALGORITHMS.md section 3): per model the
/// layer count, unique layer types, block count, parameters and nesting levels; per layer the rows of the layer CSV;
/// layer-type distributions per task and overall. Everything is computed from plain values, whatever source or catalog
/// the architectures came from.
module Hybrid.Analysis.Structure

open System
open Hybrid.Analysis.Architecture

/// One model of a report: a unique id, the base model name, the task it is grouped under and its architecture.
type ReportModel = { Id: string; BaseName: string; Task: string; Architecture: Architecture }

/// The per-model figures of the metrics table.
type ModelMetrics =
    {
        Id: string
        BaseName: string
        Task: string
        /// Nodes of the abstract architecture.
        Layers: int
        UniqueLayerTypes: int
        Blocks: int
        Parameters: int64
        /// Mean and median nesting level (dots in the module path) over the nodes that have a module path; 0 when none has.
        MeanNesting: float
        MedianNesting: float
    }

/// One row of the per-layer table (columns `Layer Name, Layer Type, Input Shape, Output Shape, Block, Parameters,
/// Model ID, Base Model Name, Task`). Shapes are empty when the source does not declare them.
type LayerRow =
    { LayerName: string
      LayerType: string
      InputShape: string
      OutputShape: string
      Block: string
      Parameters: int64
      ModelId: string
      BaseModelName: string
      Task: string }

/// The scope holding every model; per-task scopes are named by their task.
[<Literal>]
let Overall = "overall"

/// Nesting level of a module path: the number of dots ("layer1.0.conv1" is at level 2).
let nestingLevel (path: string) = path |> Seq.filter ((=) '.') |> Seq.length

let private blockWords = [ "block"; "layer"; "encoder"; "decoder" ]

let private isBlockComponent (name: string) =
    blockWords |> List.exists (fun w -> name.Contains(w, StringComparison.OrdinalIgnoreCase))

/// Every prefix of a dotted module path that ends at a component whose name contains block, layer, encoder or decoder
/// (case-insensitive), outermost first: the blocks the path lies in, as the published tool defined them.
let blockPrefixes (path: string) =
    if String.IsNullOrEmpty path then
        []
    else
        let parts = path.Split '.'
        [ for i in 0 .. parts.Length - 1 do
              if isBlockComponent parts[i] then
                  yield String.Join(".", parts, 0, i + 1) ]

/// The innermost block a module path lies in, or "" outside any block.
let innermostBlock (path: string) = blockPrefixes path |> List.tryLast |> Option.defaultValue ""

/// Distinct block prefixes over every module path of the architecture (hierarchy entries and node paths).
let blockCount (arch: Architecture) =
    Seq.append (arch.Hierarchy |> Seq.map _.Path) (arch.Nodes |> Seq.map _.ModulePath)
    |> Seq.collect blockPrefixes
    |> Seq.distinct
    |> Seq.length

/// The median of a non-empty list (the mean of the two middle values when the length is even).
let median (values: float list) =
    let sorted = List.sort values |> List.toArray
    let n = sorted.Length
    if n = 0 then invalidArg "values" "the median of no values"
    elif n % 2 = 1 then sorted[n / 2]
    else (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0

/// Nesting levels of the nodes that have a module path.
let nestingLevels (arch: Architecture) =
    arch.Nodes
    |> Seq.map _.ModulePath
    |> Seq.filter (String.IsNullOrEmpty >> not)
    |> Seq.map (nestingLevel >> float)
    |> List.ofSeq

/// The metrics of one model.
let metrics (m: ReportModel) =
    let levels = nestingLevels m.Architecture
    { Id = m.Id
      BaseName = m.BaseName
      Task = m.Task
      Layers = m.Architecture.Nodes.Length
      UniqueLayerTypes = m.Architecture.Nodes |> Seq.map _.LayerType |> Seq.distinct |> Seq.length
      Blocks = blockCount m.Architecture
      Parameters = m.Architecture.ParameterCount
      MeanNesting = if levels.IsEmpty then 0.0 else List.average levels
      MedianNesting = if levels.IsEmpty then 0.0 else median levels }

/// A shape as "[1, 64, 112, 112]"; -1 marks a dimension the source leaves symbolic.
let shapeText (shape: int64[]) = "[" + String.Join(", ", shape) + "]"

/// The per-layer rows of one model, in node order. A node's input shape is the output shapes of the nodes feeding it
/// (joined by "; " when several are known).
let layerRows (m: ReportModel) =
    let arch = m.Architecture
    let inputs = Array.create arch.Nodes.Length []
    for from, target in Array.rev arch.Edges do
        inputs[target] <- from :: inputs[target]
    [ for node in arch.Nodes ->
          { LayerName = node.Name
            LayerType = node.LayerType
            InputShape =
              inputs[node.Id]
              |> List.choose (fun i -> arch.Nodes[i].OutputShape)
              |> List.map shapeText
              |> String.concat "; "
            OutputShape = node.OutputShape |> Option.map shapeText |> Option.defaultValue ""
            Block = innermostBlock node.ModulePath
            Parameters = node.ParameterCount
            ModelId = m.Id
            BaseModelName = m.BaseName
            Task = m.Task } ]

/// How many nodes of each layer type one model has.
let typeCounts (m: ReportModel) : Map<string, int> = m.Architecture.Nodes |> Array.countBy _.LayerType |> Map.ofArray

/// Layer types over a set of models with their total counts, most frequent first (ties by name).
let distribution (models: ReportModel list) =
    models
    |> Seq.collect (fun m -> m.Architecture.Nodes |> Seq.map _.LayerType)
    |> Seq.countBy id
    |> Seq.sortBy (fun (t, n) -> -n, t)
    |> List.ofSeq

/// The overall scope followed by one scope per task (sorted by name), each with its models in input order.
let scopes (models: ReportModel list) = (Overall, models) :: (models |> List.groupBy _.Task |> List.sortBy fst)

/// Checks what every report relies on: at least one model, and ids that are unique and not blank.
let validate (models: ReportModel list) =
    if models.IsEmpty then
        invalidArg "models" "no models to analyze"
    for m in models do
        if String.IsNullOrWhiteSpace m.Id then
            invalidArg "models" $"a model of task '{m.Task}' has an empty id"
    match models |> List.countBy _.Id |> List.tryFind (fun (_, n) -> n > 1) with
    | Some(id, n) -> invalidArg "models" $"the model id '{id}' appears {n} times; ids must be unique"
    | None -> ()
