/// Activation capture on ONNX graphs for the CKA index: an OnnxSession (standard operators only; nothing from the file
/// runs) computes the probe set in batches, and an observer reads the output of every selected node as the session
/// produces it. A node's rows are gathered batch by batch and encoded as soon as its last batch has passed; with the
/// whole probe set in one batch only one node's output is held at a time beyond what the graph itself holds, and with
/// several batches the selected nodes are split into passes whose gathered rows fit a memory budget, each pass running
/// every batch (CKA needs a node's rows for all probe inputs at once: its Gram matrix pairs inputs of every batch).
module Hybrid.Analysis.OnnxCapture

open System
open System.Collections.Generic
open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Formats.Onnx.Reader
open Hybrid.Core.Nn.Formats.Onnx.Runtime
open Hybrid.Analysis.LayerCapture

/// Probe inputs per session run: the default probe set (100) in one run.
let DefaultBatch = 100

/// Bytes of gathered rows one pass holds at most when the probe set takes several runs (1 GiB).
let DefaultBudget = 1L <<< 30

/// The layer a node name is stored as: without its leading '/', the other '/' written '.', so that it is one segment
/// of the HTTP API's paths ("/layer1/layer1.0/conv1/Conv" -> "layer1.layer1.0.conv1.Conv").
let layerName (nodeName: string) = nodeName.TrimStart('/').Replace('/', '.')

/// A node the session runs on every call, as the layer it is stored as.
type private Layer = { Node: OnnxNode; Name: string; Parameters: string; ParameterCount: int64 }

/// The session's steps in graph order, named by node (by first output when unnamed), with the initializers each
/// reads as its parameters under PyTorch's names where the op has them (weight, bias).
let private layers (session: OnnxSession) =
    let named = numbering ()
    let model = session.Model
    [ for node in session.Steps ->
          let roles =
              match FromOnnx.parameterNames.TryGetValue node.OpType with
              | true, r -> r
              | _ -> [||]
          let parameters, count =
              describeParameters
                  [ for k in 0 .. node.Inputs.Count - 1 do
                        match model.Initializers.TryGetValue node.Inputs[k] with
                        | true, t -> yield (if k < roles.Length then roles[k] else node.Inputs[k]), Array.ofSeq t.Shape
                        | _ -> () ]
          let name =
              if node.Name <> "" then
                  node.Name
              else
                  node.Outputs |> Seq.tryFind (fun o -> o <> "") |> Option.defaultValue node.OpType
          { Node = node; Name = named (layerName name); Parameters = parameters; ParameterCount = count } ]

/// A selected node's rows gathered so far (allocated at its first batch), its output shape per input, and why it is
/// skipped once it is.
type private Gathered = { mutable Rows: float32[]; mutable Shape: int64[]; mutable Problem: string option }

/// Selected layers split into passes in graph order, each gathering at most budget bytes of rows for n inputs (a layer
/// larger than the budget alone in its pass); features holds each layer's values per input.
let private passes (budget: int64) (n: int) (features: OnnxNode -> int64) (selected: Layer list) =
    let bytes (l: Layer) = 4L * int64 n * features l.Node
    selected
    |> List.fold
        (fun (done', current, held) l ->
            if not (List.isEmpty current) && held + bytes l > budget then
                List.rev current :: done', [ l ], bytes l
            else
                done', l :: current, held + bytes l)
        ([], [], 0L)
    |> fun (done', current, _) -> List.rev (if List.isEmpty current then done' else List.rev current :: done')

/// Runs session (a graph with one input) on the probe images (n x shape), batch inputs per run, and returns the
/// encoding of every selected node (selection's paths name nodes, as stored or as in the file; its types are op types)
/// in graph order, and the nodes skipped: those whose output is one of their inputs (Identity, Dropout: their encoding
/// would be the previous node's), is not one float32 row per input (shape arithmetic), or is the same for every input.
let capture
    (device: Device)
    (session: OnnxSession)
    (selection: Selection)
    (images: float32[])
    (shape: int[])
    (batch: int)
    (budget: int64)
    =
    if batch < 1 then
        invalidArg (nameof batch) $"OnnxCapture.capture: batch = {batch}, but at least 1 input per run is required"
    let input =
        match List.ofSeq session.Inputs with
        | [ i ] -> i.Name
        | inputs ->
            Input.fail
                "%s: the graph takes %d inputs (%s); the CKA index feeds it one batch of probe images"
                session.Model.Path
                inputs.Length
                (inputs |> List.map _.Name |> String.concat ", ")
    let size = Array.fold (*) 1 shape
    let n = images.Length / size
    let run (first: int) (count: int) (observe: OnnxObserver) =
        let x = if count = n then images else Array.sub images (first * size) (count * size)
        session.Run(readOnlyDict [ input, Tensor.Wrap(x, Array.append [| count |] shape, device) ], observe) |> ignore
    let selected =
        layers session
        |> picked
            "the graph has no node"
            { selection with Paths = List.map layerName selection.Paths }
            _.Name
            _.Node.OpType
    let batches = [ for first in 0..batch .. n - 1 -> first, min batch (n - first) ]
    let groups =
        if batches.Length = 1 then
            [ selected ]
        else
            let features = Dictionary<OnnxNode, int64>(HashIdentity.Reference)
            run 0 1 (OnnxObserver(fun node _ outputs -> features[node] <- int64 outputs[0].Numel))
            passes budget n (fun node -> features.GetValueOrDefault node) selected
    let captured = ResizeArray<CapturedLayer>()
    let skipped = ResizeArray<SkippedLayer>()
    let finish (layer: Layer) (g: Gathered) =
        match g.Problem |> Option.map Error |> Option.defaultWith (fun () -> encode device g.Rows n) with
        | Error reason -> skipped.Add { Path = layer.Name; Reason = reason }
        | Ok encoding ->
            captured.Add
                { Path = layer.Name
                  Type = layer.Node.OpType
                  OutputShape = g.Shape
                  Parameters = layer.Parameters
                  ParameterCount = layer.ParameterCount
                  Encoding = encoding }
        g.Rows <- null
    let gather (first: int) (count: int) (g: Gathered) (inputs: IReadOnlyList<Tensor>) (output: Tensor) =
        let problem =
            if inputs |> Seq.exists (fun i -> Object.ReferenceEquals(i, output)) then
                Some "its output is its input"
            else
                rowsProblem output count
        let rowShape = output.Shape[1..] |> Array.map int64
        match problem with
        | Some _ -> g.Problem <- problem
        | None when not (isNull g.Rows) && g.Shape <> rowShape ->
            let text (s: int64[]) = String.Join("x", s)
            g.Problem <-
                Some $"its output shape per input changes with the batch ({text g.Shape}, then {text rowShape})"
        | None ->
            let features = output.Numel / count
            if isNull g.Rows then
                g.Rows <- Array.zeroCreate (n * features)
                g.Shape <- rowShape
            output.Span<float32>().CopyTo(Span<float32>(g.Rows, first * features, count * features))
        if g.Problem.IsSome then
            g.Rows <- null
    for group in groups do
        let wanted = Dictionary<OnnxNode, Layer * Gathered>(HashIdentity.Reference)
        for l in group do
            wanted[l.Node] <- l, { Rows = null; Shape = [||]; Problem = None }
        for first, count in batches do
            run
                first
                count
                (OnnxObserver(fun node inputs outputs ->
                    match wanted.TryGetValue node with
                    | true, (layer, g) ->
                        if g.Problem.IsNone then
                            gather first count g inputs outputs[0]
                        if first + count = n then
                            finish layer g
                    | _ -> ()))
    List.ofSeq captured, List.ofSeq skipped
