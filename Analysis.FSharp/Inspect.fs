/// What is inside a model, from headers only: the format, every tensor's name, dtype and shape, the parameter count,
/// and the module hierarchy that the dotted tensor names spell (PyTorch's state-dict keys), without reading weights.
module Hybrid.Analysis.Inspect

open System.IO
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Formats
open Hybrid.Core.Nn.Formats.HuggingFace
open Hybrid.Core.Nn.Formats.Onnx.Reader
open Hybrid.Core.Nn.Formats.PyTorch

type TensorInfo =
    { Name: string
      DType: string
      Shape: int64[] }

    member t.Elements = Array.fold (*) 1L t.Shape

    /// PyTorch's BatchNorm buffers, which a state dict holds beside the parameters; a safetensors header does not
    /// say which is which, so the names decide.
    member t.IsBuffer =
        match t.Name.Substring(t.Name.LastIndexOf '.' + 1) with
        | "running_mean"
        | "running_var"
        | "num_batches_tracked" -> true
        | _ -> false

/// One module of the hierarchy: its dotted path ("" for the root), the parameters below it, and its children in
/// the order their first tensor appears.
type ModuleNode = { Path: string; Parameters: int64; Tensors: int; Children: ModuleNode list }

type Report =
    {
        Path: string
        Format: string
        /// config.json's model_type and architectures, when the model is a Hugging Face folder.
        ModelType: string option
        Architectures: string list
        Files: string list
        /// Operator types and how often each occurs, for graph formats (ONNX); empty for weight files.
        Operators: (string * int) list
        Tensors: TensorInfo list
    }

    /// Elements of the learnable tensors (every tensor but the BatchNorm buffers).
    member r.Parameters = r.Tensors |> List.filter (fun t -> not t.IsBuffer) |> List.sumBy _.Elements

    /// Elements of the BatchNorm buffers.
    member r.BufferElements = r.Tensors |> List.filter _.IsBuffer |> List.sumBy _.Elements

let private safetensorsTensors (path: string) =
    use file = Hybrid.Core.Nn.Formats.Safetensors.SafetensorsFile.Open path
    [ for t in file.Tensors -> { Name = t.Name; DType = t.DType.HeaderName(); Shape = t.Shape } ]

/// Where a graph exported without parameters (export_params=False) keeps them: the graph inputs after the first (the
/// data) whose shapes are all fixed, with those shapes.
let onnxParameterInputs (model: OnnxModel) =
    [ for input in Seq.skip (min 1 model.Inputs.Count) model.Inputs do
          match input.Shape with
          | null -> ()
          | shape when shape |> Seq.forall (fun d -> d.Value.HasValue) ->
              yield input, [| for d in shape -> d.Value.Value |]
          | _ -> () ]

/// An ONNX graph's weights: its initializers, or, for a graph exported without parameters, its parameter inputs.
let private onnx (path: string) =
    let model = OnnxModel.Load path
    let initializers =
        [ for t in model.Initializers.Values ->
              { Name = t.Name; DType = string t.DataType; Shape = Array.ofSeq t.Shape } ]
    let parameterInputs =
        if not initializers.IsEmpty then
            []
        else
            [ for input, shape in onnxParameterInputs model ->
                  { Name = input.Name; DType = string input.ElementType; Shape = shape } ]
    let operators = model.Nodes |> Seq.countBy _.OpType |> Seq.sortByDescending snd |> List.ofSeq
    { Path = path
      Format = $"onnx (opset {model.Opset})"
      ModelType = None
      Architectures = []
      Files = [ path ]
      Operators = operators
      Tensors = initializers @ parameterInputs }

/// A PyTorch checkpoint's state dict (zip or legacy format, through the allowlisted unpickler; nothing from the file
/// runs). A legacy checkpoint has no separate header, so its tensors are read whole. The `module.` prefix that
/// nn.DataParallel adds to every key is dropped, as loading does.
let private torch (path: string) =
    let saved = TorchCheckpoint.Load path
    let state =
        if saved.Count > 0 && saved.Names |> Seq.forall (fun n -> n.StartsWith "module.") then
            saved.WithoutPrefix()
        else
            saved
    let format =
        if state.Format = CheckpointFormat.Zip then
            "pytorch checkpoint (zip)"
        else
            "pytorch checkpoint (legacy, pre-1.6)"
    { Path = path
      Format = format
      ModelType = None
      Architectures = []
      Files = [ path ]
      Operators = []
      Tensors = [ for t in state.Tensors -> { Name = t.Name; DType = t.DType.HeaderName(); Shape = t.Shape } ] }

/// Reads the headers of a safetensors file, a PyTorch checkpoint, an ONNX file (its graph and initializers), a Hugging Face model folder
/// (config.json + safetensors, sharded or not, or pytorch_model.bin) or a hub cache entry (models--org--name/snapshots/REV); the folder
/// layouts are resolved by Core.Nn's ModelFolder, which StateDicts.Load shares.
let read (path: string) =
    if File.Exists path then
        match Path.GetExtension(path).ToLowerInvariant() with
        | ".safetensors" ->
            { Path = path
              Format = "safetensors"
              ModelType = None
              Architectures = []
              Files = [ path ]
              Operators = []
              Tensors = safetensorsTensors path }
        | ".onnx" -> onnx path
        | ext when List.contains ext ModelFiles.checkpointExtensions -> torch path
        | ext ->
            raise (
                InputException(
                    path,
                    $"inspect reads safetensors, PyTorch {ModelFiles.checkpointList} and ONNX files and Hugging Face folders, not '{ext}' files"
                )
            )
    elif Directory.Exists path then
        let folder = ModelFolder.Open path
        let files = List.ofSeq folder.WeightFiles
        let tensors, kind =
            match folder.Format with
            | WeightFormat.PyTorch -> files |> List.collect (fun f -> (torch f).Tensors), "pytorch_model.bin"
            | _ -> files |> List.collect safetensorsTensors, "safetensors"
        { Path = path
          Format =
            (if files.Length > 1 then $"hugging face folder (sharded {kind})" else $"hugging face folder ({kind})")
          ModelType = Option.ofObj folder.ModelType
          Architectures = List.ofSeq folder.Architectures
          Files = files
          Operators = []
          Tensors = tensors }
    else
        raise (InputException(path, "no such file or folder"))

/// The module tree of the dotted tensor names, to the given depth (1: the top-level modules).
let modules (depth: int) (tensors: TensorInfo list) =
    let rec build (prefix: string) (level: int) (items: (string list * TensorInfo) list) =
        let children =
            if level >= depth then
                []
            else
                items
                |> List.filter (fun (parts, _) -> parts.Length > 1)
                |> List.groupBy (fun (parts, _) -> parts.Head)
                |> List.map (fun (head, group) ->
                    let path = if prefix = "" then head else $"{prefix}.{head}"
                    build path (level + 1) (group |> List.map (fun (parts, t) -> parts.Tail, t)))
        { Path = prefix
          Parameters = items |> List.sumBy (fun (_, t) -> if t.IsBuffer then 0L else t.Elements)
          Tensors = items.Length
          Children = children }
    build "" 0 (tensors |> List.map (fun t -> List.ofArray (t.Name.Split '.'), t))
