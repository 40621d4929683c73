/// The abstract architecture of an ONNX graph: one node per ONNX node, edges where one node's output value is another's
/// input, parameter shapes from initializers (external or absent data included: only their dims are read) or from
/// graph inputs with fixed shapes (files exported with export_params=False), module paths from the node-name scopes
/// that PyTorch's exporter writes ("/layer1/layer1.0/conv1/Conv" -> "layer1.0.conv1").
module Hybrid.Analysis.FromOnnx

open System.Collections.Generic
open System.IO
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Formats.Onnx.Reader
open Hybrid.Analysis.Architecture

let private scopeOf (nodeName: string) =
    let parts = nodeName.Split('/', System.StringSplitOptions.RemoveEmptyEntries)
    Array.truncate (max 0 (parts.Length - 1)) parts

/// The dotted module path of scope components. A component either extends the previous one ("layer1" then
/// "layer1.0": a child of a Sequential, named by its full path below the parent's attribute) or names an attribute
/// ("conv1").
let private joinScope (parts: string[]) =
    let mutable path = ""
    let mutable previous = ""
    for part in parts do
        if previous <> "" && part.StartsWith(previous + ".") then path <- path + part.Substring previous.Length
        elif path = "" then path <- part
        else path <- path + "." + part
        previous <- part
    path

/// The module path of one node name ("/layer1/layer1.0/conv1/Conv" -> "layer1.0.conv1"); the last component is the
/// op's own name. See modulePaths for modules called more than once.
let modulePath (nodeName: string) = joinScope (scopeOf nodeName)

/// The module paths of all node names of a graph. The exporter tells repeated calls of one module apart by a suffix
/// ("relu", then "relu_1" for the second call of the same ReLU): a component "NAME_K" counts as module NAME when a
/// sibling scope NAME exists. (A model that really has modules "x" and "x_1" side by side would see them merged.)
let modulePaths (nodeNames: string seq) =
    let scopes = nodeNames |> Seq.map scopeOf |> Array.ofSeq
    let known = HashSet<string>()
    for parts in scopes do
        for k in 1 .. parts.Length do
            known.Add(System.String.Join("/", parts, 0, k)) |> ignore
    scopes
    |> Array.map (fun parts ->
        parts
        |> Array.mapi (fun k part ->
            let underscore = part.LastIndexOf '_'
            if
                underscore > 0
                && underscore < part.Length - 1
                && Seq.forall System.Char.IsDigit (part.Substring(underscore + 1))
                && known.Contains(
                    System.String.Join("/", Array.append parts[.. k - 1] [| part.Substring(0, underscore) |])
                )
            then
                part.Substring(0, underscore)
            else
                part)
        |> joinScope)

/// PyTorch's names for the parameter inputs of the ops that have them, by input position; other ops' parameters keep
/// their value names.
let parameterNames =
    dict
        [ "Conv", [| "input"; "weight"; "bias" |]
          "ConvTranspose", [| "input"; "weight"; "bias" |]
          "Gemm", [| "input"; "weight"; "bias" |]
          "BatchNormalization", [| "input"; "weight"; "bias"; "running_mean"; "running_var" |]
          "LayerNormalization", [| "input"; "weight"; "bias" |]
          "InstanceNormalization", [| "input"; "weight"; "bias" |] ]

/// ONNX attribute names -> PyTorch's, so that attributes read alike across sources.
let private attributeNames =
    dict
        [ "kernel_shape", "kernel_size"
          "strides", "stride"
          "dilations", "dilation"
          "group", "groups"
          "epsilon", "eps" ]

let private attributes (node: OnnxNode) =
    [ for KeyValue(name, a) in node.Attributes do
          let name =
              match attributeNames.TryGetValue name with
              | true, n -> n
              | _ -> name
          match a.Type with
          | OnnxAttributeType.Int -> yield name, Int a.Int
          | OnnxAttributeType.Float -> yield name, Float(float a.Float)
          | OnnxAttributeType.String -> yield name, Text a.String
          | OnnxAttributeType.Ints when name = "pads" && a.Ints.Count % 2 = 0 ->
              // ONNX pads are all begins then all ends; PyTorch's padding is one value per side pair.
              let half = a.Ints.Count / 2
              let begins, ends = Seq.take half a.Ints |> Array.ofSeq, Seq.skip half a.Ints |> Array.ofSeq
              yield
                  (if begins = ends then "padding" else "pads"),
                  Ints(if begins = ends then begins else Array.ofSeq a.Ints)
          | OnnxAttributeType.Ints -> yield name, Ints(Array.ofSeq a.Ints)
          | _ -> () ] // tensors, graphs and float lists describe values, not the layer's shape

/// Fixed dimensions of a declared shape; a symbolic or unknown dimension reads -1.
let private dims (shape: IReadOnlyList<OnnxDim>) =
    [| for d in shape -> if d.Value.HasValue then d.Value.Value else -1L |]

/// The weights of the graph by value name: initializers, else (export_params=False) every graph input after the
/// first, the data, whose shape is fully fixed; and values an Identity node copies from one of them, as the exporter
/// writes for parameters it deduplicates.
let private parameterShapes (model: OnnxModel) =
    let shapes = Dictionary<string, int64[]>()
    for t in model.Initializers.Values do
        shapes[t.Name] <- Array.ofSeq t.Shape
    if shapes.Count = 0 then
        for input, shape in Inspect.onnxParameterInputs model do
            shapes[input.Name] <- shape
    let mutable changed = true
    while changed do
        changed <- false
        for n in model.Nodes do
            if
                n.OpType = "Identity"
                && n.Inputs.Count = 1
                && n.Outputs.Count = 1
                && shapes.ContainsKey n.Inputs[0]
                && not (shapes.ContainsKey n.Outputs[0])
            then
                shapes[n.Outputs[0]] <- shapes[n.Inputs[0]]
                changed <- true
    shapes

let private spatialRank (node: OnnxNode) (weight: int64[] option) (inputShape: int64[] option) =
    match node.Ints "kernel_shape", weight, inputShape with
    | null, Some w, _ when node.OpType.StartsWith "Conv" && w.Length >= 3 -> Some(w.Length - 2)
    | null, _, Some s when s.Length >= 3 -> Some(s.Length - 2)
    | null, _, _ -> None
    | kernel, _, _ -> Some kernel.Count

/// The abstract architecture of a loaded model; `path` names the file in errors. An Identity node that copies a
/// parameter is the exporter's bookkeeping (it writes one per reuse of a shared parameter in files without weights): it
/// is folded away, its output read as the parameter it copies, and it counts in OriginalOps but not as a layer.
let ofModel (path: string) (model: OnnxModel) : Architecture =
    let parameters = parameterShapes model
    let copiesParameter (n: OnnxNode) =
        n.OpType = "Identity" && n.Inputs.Count = 1 && parameters.ContainsKey n.Inputs[0]
    let layers = model.Nodes |> Seq.filter (copiesParameter >> not) |> Array.ofSeq
    let declared = Dictionary<string, int64[]>()
    for v in Seq.concat [ model.Inputs; model.ValueInfos; model.Outputs ] do
        if not (isNull v.Shape) then
            declared[v.Name] <- dims v.Shape
    let graphInputs =
        HashSet<string>(
            Seq.concat
                [ model.Inputs |> Seq.map _.Name
                  model.Initializers.Keys
                  model.Nodes |> Seq.filter copiesParameter |> Seq.collect _.Outputs ]
        )
    let graphOutputs = HashSet<string>(model.Outputs |> Seq.map _.Name)
    let names = HashSet<string>()
    let paths = modulePaths (layers |> Seq.map _.Name)
    let lookup (d: Dictionary<string, int64[]>) key =
        match d.TryGetValue key with
        | true, v -> Some v
        | _ -> None
    let nodes =
        layers
        |> Seq.mapi (fun i n ->
            let name = if n.Name = "" then $"{n.OpType}_{i}" else n.Name
            let name = if names.Add name then name else $"{name}#{i}"
            names.Add name |> ignore
            let roles =
                match parameterNames.TryGetValue n.OpType with
                | true, r -> r
                | _ -> [||]
            // An Identity copying a parameter is the exporter's bookkeeping; its consumers list the parameter.
            let ps =
                if n.OpType = "Identity" then
                    []
                else
                    [ for k in 0 .. n.Inputs.Count - 1 do
                          match lookup parameters n.Inputs[k] with
                          | Some shape -> yield (if k < roles.Length then roles[k] else n.Inputs[k]), shape
                          | None -> () ]
            let weight = ps |> List.tryPick (fun (p, s) -> if p = "weight" then Some s else None)
            let input = if n.Inputs.Count > 0 then lookup declared n.Inputs[0] else None
            let layerType = LayerTypes.normalise n.OpType (spatialRank n weight input)
            let weight =
                if n.OpType = "Gemm" && n.Int("transB", 0L) = 0L then weight |> Option.map Array.rev else weight
            let attrs = attributes n @ LayerTypes.weightAttributes layerType (n.Int("group", 1L)) weight
            { Id = i
              Name = name
              LayerType = layerType
              Original = n.OpType
              Attributes = Map.ofList attrs
              Parameters = ps
              OutputShape = (if n.Outputs.Count > 0 then lookup declared n.Outputs[0] else None)
              ModulePath = paths[i] })
        |> Array.ofSeq
    let producer = Dictionary<string, int>()
    layers
    |> Array.iteri (fun i n ->
        for o in n.Outputs do
            if o <> "" then
                producer[o] <- i)
    let edges =
        [| for i in 0 .. layers.Length - 1 do
               for v in layers[i].Inputs do
                   match producer.TryGetValue v with
                   | true, p -> yield p, i
                   | _ -> () |]
    match Graphs.topologicalOrder nodes.Length edges with
    | Error cycle ->
        let around = cycle @ [ cycle.Head ] |> List.map (fun i -> nodes[i].Name) |> String.concat " -> "
        let first = nodes[cycle.Head]
        raise (
            InputException(
                path,
                $"the graph has a cycle through node '{first.Name}' ({first.Original}): {around}; an ONNX graph must be acyclic"
            )
        )
    | Ok _ -> ()
    let sources =
        [ for i in 0 .. nodes.Length - 1 do
              let inputs = layers[i].Inputs |> Seq.filter ((<>) "")
              if Seq.isEmpty inputs || inputs |> Seq.exists graphInputs.Contains then
                  i ]
    let sinks =
        [ for i in 0 .. nodes.Length - 1 do
              if layers[i].Outputs |> Seq.exists graphOutputs.Contains then
                  i ]
    let kept, keptEdges, pruned = Graphs.finish { Nodes = nodes; Edges = edges; Sources = sources; Sinks = sinks }
    { Name = Path.GetFileNameWithoutExtension path
      Format = "onnx"
      Labels = Labels.empty
      Nodes = kept
      Edges = keptEdges
      Hierarchy = Graphs.hierarchy (Graphs.leafTypes kept) (kept |> Seq.map _.ModulePath)
      Pruned = pruned
      OriginalOps = model.Nodes |> Seq.countBy _.OpType |> Map.ofSeq }

/// Reads an ONNX file's abstract architecture without reading any weights' data. A file that is not ONNX raises the
/// reader's InputException; a graph with a cycle raises InputException naming the file and a node on it.
let read (path: string) = ofModel path (OnnxModel.Load path)
