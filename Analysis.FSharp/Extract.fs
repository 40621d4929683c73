/// PLACEHOLDER, to be replaced by the extraction work of issue 5 (LayerTypes, Graphs, FromOnnx, FromModule, FromStateDict,
/// FromTraces and their Extract.fs), which keeps these two signatures. It exists only so that the catalog, extraction
/// batches, deduplication and their tests compile and run before the merge: ONNX graphs as one node per ONNX node with
/// edges through value names, and safetensors files as one node per module that owns tensors. Nothing else depends on
/// how it works.
module Hybrid.Analysis.Extract

open System
open System.Collections.Generic
open System.IO
open Hybrid.Analysis.Architecture
open Hybrid.Core.Nn.Io
open Hybrid.Core.Nn.Onnx

let private layerType (op: string) =
    match op with
    | "Conv" -> "Conv2d"
    | "Gemm" -> "Linear"
    | "Relu" -> "ReLU"
    | "Gelu" -> "GELU"
    | "MaxPool" -> "MaxPool2d"
    | "AveragePool" -> "AvgPool2d"
    | "GlobalAveragePool" -> "AdaptiveAvgPool2d"
    | "BatchNormalization" -> "BatchNorm2d"
    | "LayerNormalization" -> "LayerNorm"
    | other -> other

/// "/layer1/layer1.0/conv1/Conv" -> "layer1.0.conv1": PyTorch's exporter repeats the parent path inside child scopes.
let private scopePath (nodeName: string) =
    let parts = nodeName.Split('/', StringSplitOptions.RemoveEmptyEntries)
    if parts.Length < 2 then ""
    else
        parts[.. parts.Length - 2]
        |> Array.fold (fun (path: string) part ->
            if path = "" || part.StartsWith(path + ".") then part else path + "." + part) ""

let private attribute (a: OnnxAttribute) =
    match a.Type with
    | OnnxAttributeType.Int -> Some(Int a.Int)
    | OnnxAttributeType.Float -> Some(Float(float a.Float))
    | OnnxAttributeType.String -> Some(Text a.String)
    | OnnxAttributeType.Ints -> Some(Ints(Array.ofSeq a.Ints))
    | _ -> None

let private onnx (path: string) =
    let model = OnnxModel.Load path
    let shapes =
        seq { yield! model.Inputs; yield! model.ValueInfos; yield! model.Outputs }
        |> Seq.filter (fun v -> not (isNull v.Shape) && v.Shape |> Seq.forall (fun d -> d.Value.HasValue))
        |> Seq.map (fun v -> KeyValuePair(v.Name, [| for d in v.Shape -> d.Value.Value |]))
        |> fun pairs -> Dictionary(pairs |> Seq.distinctBy _.Key)
    let parameters =
        seq {
            for t in model.Initializers.Values do
                yield t.Name, Array.ofSeq t.Shape
            for v in model.Inputs |> Seq.indexed |> Seq.filter (fun (i, _) -> i > 0) |> Seq.map snd do
                if shapes.ContainsKey v.Name then yield v.Name, shapes[v.Name] }
        |> Seq.distinctBy fst
        |> dict
    let producer = Dictionary<string, int>()
    let nodes = model.Nodes |> Seq.toArray
    let edges = ResizeArray()
    for i, n in Array.indexed nodes do
        for input in n.Inputs do
            match producer.TryGetValue input with
            | true, j -> edges.Add((j, i))
            | _ -> ()
        for output in n.Outputs do producer[output] <- i
    // A value consumed before its producer appears means the file's node list is not a DAG in topological order.
    for i, n in Array.indexed nodes do
        for input in n.Inputs do
            match producer.TryGetValue input with
            | true, j when j >= i -> raise (ArchitectureError(path, $"node '{n.Name}' reads '{input}' before it is produced (a cycle or unsorted graph)"))
            | _ -> ()
    let toNode i (n: OnnxNode) =
        { Id = i; Name = n.Name; LayerType = layerType n.OpType; Original = n.OpType
          Attributes = n.Attributes.Values |> Seq.choose (fun a -> attribute a |> Option.map (fun v -> a.Name, v)) |> Map.ofSeq
          Parameters = [ for input in n.Inputs do if parameters.ContainsKey input then input, parameters[input] ]
          OutputShape = n.Outputs |> Seq.tryHead |> Option.bind (fun o -> match shapes.TryGetValue o with | true, s -> Some s | _ -> None)
          ModulePath = scopePath n.Name }
    let archNodes = nodes |> Array.mapi toNode
    let hierarchy =
        archNodes |> Array.map _.ModulePath |> Array.filter ((<>) "") |> Array.distinct
        |> Array.map (fun p -> { Path = p; Type = ""; Depth = p |> Seq.filter ((=) '.') |> Seq.length; Leaf = true })
        |> List.ofArray
    { Name = Path.GetFileNameWithoutExtension path; Format = "onnx"; Labels = Labels.empty; Nodes = archNodes
      Edges = edges.ToArray(); Hierarchy = hierarchy; Pruned = []
      OriginalOps = nodes |> Array.countBy _.OpType |> Map.ofArray }

let private safetensors (path: string) =
    use file = SafetensorsFile.Open path
    let modules =
        file.Tensors
        |> Seq.groupBy (fun t -> match t.Name.LastIndexOf '.' with -1 -> "" | k -> t.Name.Substring(0, k))
        |> Seq.toArray
    let nodes =
        modules
        |> Array.mapi (fun i (prefix, tensors) ->
            let ps = [ for t in tensors -> t.Name.Substring(t.Name.LastIndexOf '.' + 1), t.Shape ]
            let kind =
                match ps |> List.tryFind (fun (n, _) -> n = "weight") with
                | Some(_, s) when s.Length = 4 -> "Conv2d"
                | Some(_, s) when s.Length = 2 -> "Linear"
                | Some(_, s) when s.Length = 1 -> (if ps |> List.exists (fun (n, _) -> n = "running_mean") then "BatchNorm2d" else "LayerNorm")
                | _ -> "Parameter"
            { Id = i; Name = prefix; LayerType = kind; Original = kind; Attributes = Map.empty; Parameters = ps
              OutputShape = None; ModulePath = prefix })
    { Name = Path.GetFileNameWithoutExtension path; Format = "safetensors"; Labels = Labels.empty; Nodes = nodes
      Edges = Array.init (max 0 (nodes.Length - 1)) (fun i -> i, i + 1); Pruned = []
      Hierarchy = [ for n in nodes -> { Path = n.ModulePath; Type = n.LayerType; Depth = n.ModulePath |> Seq.filter ((=) '.') |> Seq.length; Leaf = true } ]
      OriginalOps = nodes |> Array.countBy _.Original |> Map.ofArray }

/// The architectures in a model file (placeholder: .onnx and .safetensors files only).
let fromPath (path: string) : Architecture list =
    match Path.GetExtension(path).ToLowerInvariant() with
    | ".onnx" when File.Exists path -> [ onnx path ]
    | ".safetensors" when File.Exists path -> [ safetensors path ]
    | _ -> raise (ArchitectureError(path, "the placeholder extractor reads only .onnx and .safetensors files"))

/// A zoo model's architecture (placeholder: not available before the merge).
let fromZoo (name: string) : Architecture =
    raise (ArchitectureError(name, "the placeholder extractor does not trace zoo models"))
