/// The abstract architecture a checkpoint's tensor names and shapes imply (PyTorch .pt/.pth/.bin/.th, safetensors,
/// Hugging Face folders and hub cache entries), read from headers only. Tensors are grouped by module prefix
/// ("layer1.0.conv1.weight" -> module "layer1.0.conv1"), and each group's layer type is inferred from its parameter
/// names and shapes. Weights do not record the dataflow: a checkpoint of a zoo architecture gets that architecture's
/// traced graph; any other has its layers chained in file order (edges i -> i+1), an approximation that is exact only
/// for plain sequential models (residual and parallel branches are flattened).
module Hybrid.Analysis.FromStateDict

open System
open System.IO
open System.Text.Json
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Formats.HuggingFace
open Hybrid.Analysis.Architecture

/// The layer type a module's parameters imply: running statistics -> BatchNorm (2-D: weights alone cannot tell 1-D
/// from 2-D), a weight of rank 3/4/5 -> Conv1d/Conv2d/Conv3d (ConvTranspose looks the same and counts as Conv), a
/// matrix -> Embedding when the module's name says so and it has no bias, else Linear, a vector weight with a bias ->
/// LayerNorm, a vector weight alone -> RMSNorm when the name says "rms", else LayerNorm; in_proj_weight ->
/// MultiheadAttention; anything else -> "Parameter" (tensors a module holds directly, such as a class token).
let inferLayerType (modulePath: string) (parameters: (string * int64[]) list) =
    let has name = parameters |> List.exists (fun (p, _) -> p = name)
    let weight = parameters |> List.tryPick (fun (p, s) -> if p = "weight" then Some s else None)
    let last = modulePath.Substring(modulePath.LastIndexOf '.' + 1).ToLowerInvariant()
    match weight with
    | _ when has "running_mean" || has "running_var" -> "BatchNorm2d"
    | Some w when w.Length >= 3 && w.Length <= 5 -> $"Conv{w.Length - 2}d"
    | Some w when
        w.Length = 2 && not (has "bias") && (last.Contains "embed" || last.StartsWith "wte" || last.StartsWith "wpe")
        ->
        "Embedding"
    | Some w when w.Length = 2 -> "Linear"
    | Some w when w.Length = 1 && has "bias" -> "LayerNorm"
    | Some w when w.Length = 1 -> if last.Contains "rms" then "RMSNorm" else "LayerNorm"
    | _ when has "in_proj_weight" -> "MultiheadAttention"
    | _ -> "Parameter"

/// Nodes from tensor names and shapes in file order: one per module prefix (tensors at the root each get their own).
let nodes (tensors: (string * int64[]) list) : Node[] =
    tensors
    |> List.map (fun (name, shape) ->
        let dot = name.LastIndexOf '.'
        if dot < 0 then
            name, "", (name, shape)
        else
            name.Substring(0, dot), name.Substring(0, dot), (name.Substring(dot + 1), shape))
    |> List.groupBy (fun (key, _, _) -> key)
    |> List.mapi (fun i (key, group) ->
        let path = group |> List.head |> fun (_, p, _) -> p
        let parameters = group |> List.map (fun (_, _, p) -> p)
        let layerType = inferLayerType path parameters
        let weight = parameters |> List.tryPick (fun (p, s) -> if p = "weight" then Some s else None)
        { Id = i
          Name = key
          LayerType = layerType
          Original = layerType
          Attributes = Map.ofList (LayerTypes.weightAttributes layerType 1L weight)
          Parameters = parameters
          OutputShape = None
          ModulePath = path })
    |> Array.ofList

/// config.json's "task", for folders whose config records one (transformers does not require it).
let private configTask (path: string) =
    if not (Directory.Exists path) then
        None
    else
        let config = Path.Combine(ModelFolder.Open(path).Directory, "config.json")
        if not (File.Exists config) then
            None
        else
            try
                use doc = JsonDocument.Parse(File.ReadAllBytes config)
                match doc.RootElement.ValueKind, doc.RootElement.TryGetProperty "task" with
                | JsonValueKind.Object, (true, t) when t.ValueKind = JsonValueKind.String -> Some(t.GetString())
                | _ -> None
            with :? JsonException ->
                None // ModelFolder has already vetted the file; a bad one names itself there

/// A report name: the file's name without extension, the folder's name, or "org/name" for a hub cache entry.
let private displayName (path: string) =
    let trimmed = Path.TrimEndingDirectorySeparator(Path.GetFullPath path)
    let name = if Directory.Exists trimmed then Path.GetFileName trimmed else Path.GetFileNameWithoutExtension trimmed
    if name.StartsWith "models--" then name.Substring("models--".Length).Replace("--", "/") else name

/// Each zoo fit's traced graph, traced once per process (a forward at the architecture's image size: a second for a
/// ResNet-50 here), which every checkpoint of that fit shares.
let private tracedGraphs = System.Collections.Concurrent.ConcurrentDictionary<ZooMatch.Fit, Lazy<Architecture>>()

let private traced (fit: ZooMatch.Fit) =
    tracedGraphs
        .GetOrAdd(
            fit,
            fun f ->
                lazy
                    (let size = Hybrid.Core.Nn.Zoo.Zoo.ImageSize f.Name
                     FromModule.ofModule f.Name Labels.empty (f.Create()) (Tensor.Zeros(1, f.Channels, size, size)))
        )
        .Value

/// The abstract architecture of a checkpoint file or model folder, from tensor headers only (a legacy PyTorch
/// checkpoint is read whole: it has no separate header). A checkpoint whose tensor names and shapes fit a zoo
/// architecture (ZooMatch) gets that architecture's traced graph, so it reads as the same model's ONNX file and zoo
/// entry do; any other is chained in file order. Unreadable files raise the readers' InputException.
let read (path: string) : Architecture =
    let report = Inspect.read path
    let tensors = [ for t in report.Tensors -> t.Name, t.Shape ]
    let format =
        if report.Format.StartsWith "hugging face" then "hugging face"
        elif report.Format.StartsWith "pytorch" then "pytorch"
        else "safetensors"
    let labels = { ModelType = report.ModelType; Architectures = report.Architectures; Task = configTask path }
    match ZooMatch.find tensors with
    | Some fit -> { traced fit with Name = displayName path; Format = format; Labels = labels }
    | None ->
        let nodes = nodes tensors
        { Name = displayName path
          Format = format
          Labels = labels
          Nodes = nodes
          Edges = Array.init (max 0 (nodes.Length - 1)) (fun i -> i, i + 1)
          Hierarchy = Graphs.hierarchy (Graphs.leafTypes nodes) (nodes |> Seq.map _.ModulePath)
          Pruned = []
          OriginalOps = nodes |> Array.countBy _.Original |> Map.ofArray }
