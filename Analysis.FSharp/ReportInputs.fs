/// Report inputs read straight from files, until `hybrid analyze` reads them from the catalog: ONNX graphs (one node
/// per ONNX node, the op type as layer type, module paths from the exporter's node-name scopes) and PeaTMOSS trace
/// files in JSON Lines (one chain of layers per line). No normalisation of layer types happens here: ONNX op names and
/// trace names stay as the source spells them.
module Hybrid.Analysis.ReportInputs

open System
open System.Collections.Generic
open System.IO
open System.Text.Json
open Hybrid.Analysis.Architecture
open Hybrid.Analysis.Structure
open Hybrid.Core.Nn.Onnx

/// The module path in an ONNX node name as PyTorch's exporter writes it: "/layer1/layer1.0/conv1/Conv" gives
/// "layer1.0.conv1". The exporter names a Sequential child by its parent's local name plus the index ("block.2" under
/// "block"), so such a component adds only its suffix. The last component is the op; names without "/" give "".
let modulePathOfNodeName (name: string) =
    if not (name.Contains '/') then ""
    else
        let parts = name.Trim('/').Split('/')
        let mutable path = ""
        let mutable previous = ""
        for part in parts[.. parts.Length - 2] do
            path <-
                if previous <> "" && part.StartsWith(previous + ".", StringComparison.Ordinal) then path + part.Substring previous.Length
                elif path = "" then part
                else path + "." + part
            previous <- part
        path

/// The module hierarchy implied by a set of module paths: every prefix of every path, with its depth; a module is a
/// leaf when no other module lies under it. Types are unknown from paths alone ("").
let hierarchyOf (paths: string seq) =
    let all = SortedSet<string>(StringComparer.Ordinal)
    for p in paths do
        if p <> "" then
            let parts = p.Split '.'
            for i in 1 .. parts.Length do all.Add(String.Join(".", parts, 0, i)) |> ignore
    let parents = HashSet<string>(all |> Seq.choose (fun p -> match p.LastIndexOf '.' with -1 -> None | i -> Some p[.. i - 1]))
    [ for p in all -> { Path = p; Type = ""; Depth = nestingLevel p; Leaf = not (parents.Contains p) } ]

let private shapeOf (dims: IReadOnlyList<OnnxDim>) = dims |> Seq.map (fun d -> d.Value |> Option.ofNullable |> Option.defaultValue -1L) |> Array.ofSeq

/// The leading graph inputs that carry data: PyTorch's exporter lists the model's own inputs first, then (with
/// export_params=False) its parameters, named by module path ("fc.weight") or "onnx::Op_N"; initializers are never data.
let private dataInputs (model: OnnxModel) =
    let looksLikeParameter (name: string) =
        model.Initializers.ContainsKey name || name.Contains '.' || name.StartsWith("onnx::", StringComparison.Ordinal)
    model.Inputs |> Seq.map _.Name |> Seq.takeWhile (looksLikeParameter >> not) |> HashSet

/// The abstract architecture of an ONNX file for reports. A node's parameters are the initializers and non-data graph
/// inputs it consumes, directly or through Identity nodes (the exporter shares equal tensors that way), at any input
/// position (transformer weights reach MatMul through a Transpose, biases come first in some Adds); output shapes are
/// those the file declares, with -1 for symbolic dimensions.
let onnxArchitecture (path: string) =
    let model = OnnxModel.Load path
    let nodes = model.Nodes
    let producer = Dictionary<string, int>()
    nodes |> Seq.iteri (fun i n -> for o in n.Outputs do producer[o] <- i)
    let declared = Dictionary<string, int64[]>()
    for v in Seq.append model.ValueInfos model.Outputs do
        if not (isNull v.Shape) then declared[v.Name] <- shapeOf v.Shape
    let data = dataInputs model
    let constantShape (name: string) =
        match model.Initializers.TryGetValue name with
        | true, t -> Some(Array.ofSeq t.Shape)
        | _ when data.Contains name -> None
        | _ -> model.Inputs |> Seq.tryFind (fun i -> i.Name = name) |> Option.bind (fun i -> Option.ofObj i.Shape) |> Option.map shapeOf
    let rec parameter (name: string) =
        match producer.TryGetValue name with
        | true, i when nodes[i].OpType = "Identity" && nodes[i].Inputs.Count = 1 -> parameter nodes[i].Inputs[0]
        | true, _ -> None
        | _ -> constantShape name |> Option.map (fun shape -> name, shape)
    let parameters (n: OnnxNode) =
        if n.OpType = "Identity" then [] else n.Inputs |> Seq.filter ((<>) "") |> Seq.choose parameter |> List.ofSeq
    let archNodes =
        nodes
        |> Seq.mapi (fun i n ->
            { Id = i
              Name = (if String.IsNullOrEmpty n.Name then $"{n.OpType}_{i}" else n.Name)
              LayerType = n.OpType
              Original = n.OpType
              Attributes = Map.empty
              Parameters = parameters n
              OutputShape = (if n.Outputs.Count > 0 then (match declared.TryGetValue n.Outputs[0] with | true, s -> Some s | _ -> None) else None)
              ModulePath = modulePathOfNodeName n.Name })
        |> Array.ofSeq
    let edges =
        [| for i, n in Seq.indexed nodes do
             for input in Seq.distinct n.Inputs do
                 match producer.TryGetValue input with
                 | true, from when from <> i -> yield from, i
                 | _ -> () |]
    { Name = Path.GetFileNameWithoutExtension path
      Format = "onnx"
      Labels = Labels.empty
      Nodes = archNodes
      Edges = edges
      Hierarchy = hierarchyOf (archNodes |> Seq.map _.ModulePath)
      Pruned = []
      OriginalOps = nodes |> Seq.countBy _.OpType |> Map.ofSeq }

/// A report model for an ONNX file: id and base name are the file name without extension.
let fromOnnx (task: string) (path: string) =
    let arch = onnxArchitecture path
    { Id = arch.Name; BaseName = arch.Name; Task = task; Architecture = { arch with Labels = { arch.Labels with Task = Some task } } }

let private field (line: JsonElement) (name: string) =
    match line.TryGetProperty name with
    | true, v when v.ValueKind = JsonValueKind.String -> Some(v.GetString())
    | _ -> None

/// Report models from a PeaTMOSS trace file (JSON Lines: `repo_name`, `model_type`, `arch`, `task`, `layers`): one
/// chain of nodes per line. The id is `repo_name`, the base name the declared `model_type` (else the repository's
/// name), the task `task` ("unknown" when absent). A line that is not a JSON object with `repo_name` and `layers`
/// strings throws ArchitectureError naming the file and the line; blank lines are skipped.
let fromTraces (path: string) =
    let lines = try File.ReadAllLines path with :? IOException | :? UnauthorizedAccessException as e -> raise (ArchitectureError(path, e.Message))
    [ for number, text in Seq.indexed lines |> Seq.map (fun (i, t) -> i + 1, t) do
        if not (String.IsNullOrWhiteSpace text) then
            let problem (what: string) = ArchitectureError(path, $"line {number}: {what}")
            use doc = try JsonDocument.Parse text with :? JsonException as e -> raise (problem $"not valid JSON ({e.Message})")
            let line = doc.RootElement
            if line.ValueKind <> JsonValueKind.Object then raise (problem "not a JSON object")
            let repo = field line "repo_name" |> Option.defaultWith (fun () -> raise (problem "no \"repo_name\" string"))
            let layers = field line "layers" |> Option.defaultWith (fun () -> raise (problem "no \"layers\" string"))
            let tokens = layers.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            if tokens.Length = 0 then raise (problem "\"layers\" is empty")
            let modelType = field line "model_type"
            let task = field line "task" |> Option.filter (String.IsNullOrWhiteSpace >> not) |> Option.defaultValue "unknown"
            let arch =
                { Name = repo
                  Format = "trace"
                  Labels = { ModelType = modelType; Architectures = Option.toList (field line "arch"); Task = Some task }
                  Nodes =
                    tokens |> Array.mapi (fun i t ->
                        { Id = i; Name = $"{t}_{i}"; LayerType = t; Original = t; Attributes = Map.empty; Parameters = []
                          OutputShape = None; ModulePath = "" })
                  Edges = Array.init (tokens.Length - 1) (fun i -> i, i + 1)
                  Hierarchy = []
                  Pruned = []
                  OriginalOps = tokens |> Array.countBy id |> Map.ofArray }
            let baseName = modelType |> Option.defaultValue (repo.Substring(repo.LastIndexOf '/' + 1))
            yield { Id = repo; BaseName = baseName; Task = task; Architecture = arch } ]

/// Report models from files and folders: `.onnx` files (given `task`) and `.jsonl` trace files; a folder contributes
/// the ONNX and JSON Lines files directly inside it. Ids that repeat get " (2)", " (3)", ... in input order.
let load (task: string) (paths: string list) =
    let files =
        [ for p in paths do
            if Directory.Exists p then
                let found =
                    Directory.EnumerateFiles p
                    |> Seq.filter (fun f -> f.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
                    |> Seq.sort |> List.ofSeq
                if found.IsEmpty then raise (ArchitectureError(p, "the folder holds no .onnx or .jsonl files"))
                yield! found
            elif File.Exists p then yield p
            else raise (ArchitectureError(p, "no such file or folder")) ]
    let models =
        files |> List.collect (fun f ->
            if f.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) then [ fromOnnx task f ]
            elif f.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) then fromTraces f
            else raise (ArchitectureError(f, "not an .onnx or .jsonl file")))
    let seen = Dictionary<string, int>()
    [ for m in models ->
        let n = (match seen.TryGetValue m.Id with | true, k -> k | _ -> 0) + 1
        seen[m.Id] <- n
        if n = 1 then m else { m with Id = $"{m.Id} ({n})" } ]
