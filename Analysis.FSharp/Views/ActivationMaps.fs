/// Feature-activation maps: the output of chosen channels of one module (by module path) for one input, as heatmaps
/// beside the input and laid over it.
module Hybrid.Analysis.ActivationMaps

open System
open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Modules

/// Channels shown when none are chosen: the ones most active on the input.
let DefaultChannels = 8

/// The module of model at path; an unknown path is the user's mistake, answered with some paths the model has.
let findModule (model: Module) (path: string) =
    // NamedModules lists each module once per enumeration, so it is enumerated once.
    let all =
        model.NamedModules() |> Seq.map (fun struct (p, m) -> p, m) |> Seq.filter (fun (p, _) -> p <> "") |> List.ofSeq
    match all |> List.tryFind (fun (p, _) -> p = path) with
    | Some(_, m) -> m
    | None ->
        let known = all |> List.map fst |> List.filter (fun p -> not (p.Contains '.')) |> List.truncate 12
        Input.fail "--layer: the model has no module '%s' (top-level modules: %s)" path (String.Join(", ", known))

/// Runs f with a hook that keeps the first output of the module at path during each forward pass of model; f gets a
/// function returning the output of the last pass (or fails when the module did not run).
let withOutput (model: Module) (path: string) (f: (unit -> Tensor) -> 'a) =
    let target = findModule model path
    let mutable output: Tensor option = None
    use _ =
        target.RegisterForwardHook(fun _ _ y ->
            if output.IsNone then
                output <- Some y)
    f (fun () ->
        match output with
        | Some y ->
            output <- None
            y
        | None -> Input.fail "--layer: module %s did not run in the forward pass" path)

/// The number of channels of a module output of shape (N, C, ...), refusing a channel list that does not fit.
let checkChannels (path: string) (shape: int[]) (channels: int list) =
    if shape.Length < 2 then
        Input.fail "--layer: %s gives shape %s, with no channel dimension" path (ShapeOps.Format shape)
    for c in channels do
        if c < 0 || c >= shape[1] then
            Input.fail
                "--channels: channel %d is out of range: %s has %d channels (0-%d)"
                c
                path
                shape[1]
                (shape[1] - 1)

/// One channel's map: its range and mean on the input (the heatmap runs from Min, dark, to Max, white).
type ChannelMap = { Channel: int; Min: float; Max: float; Mean: float }

type Maps =
    {
        Layer: string
        LayerType: string
        /// The layer's output for one input (C, H, W).
        OutputShape: int[]
        /// The input's index in the dataset, its true class and the class the model predicts.
        Image: int
        Label: string
        Predicted: string
        Channels: ChannelMap list
        /// The maps themselves, H x W per channel in Channels' order, row-major.
        Values: float32[][]
    }

/// The maps of channels (none: the DefaultChannels most active ones) of the module at layer for one normalised input
/// of shape C x H x W. The layer must give (N, C, H, W) outputs.
let compute
    (device: Device)
    (model: Module)
    (layer: string)
    (channels: int list)
    (shape: int[])
    (input: float32[])
    (image: int)
    (classes: string list)
    (label: int)
    =
    let output, logits =
        withOutput model layer (fun output ->
            use _ = Autograd.NoGrad()
            use _ = model.Eval()
            let logits = model.Call(Tensor.Wrap(input, Array.append [| 1 |] shape, device))
            output (), logits)
    checkChannels layer output.Shape channels
    if output.Dim <> 4 then
        Input.fail "--layer: %s gives shape %s; maps need (N, C, H, W)" layer (ShapeOps.Format output.Shape)
    let c, h, w = output.Size 1, output.Size 2, output.Size 3
    let values = output.ToArray<float32>()
    let plane i = Array.sub values (i * h * w) (h * w)
    let mean i = plane i |> Array.averageBy float
    let chosen =
        if channels.IsEmpty then
            List.init c id |> List.sortBy (fun i -> -(mean i), i) |> List.truncate DefaultChannels
        else
            channels
    let predicted = Networks.argmaxRows logits |> Array.head
    let name i = if i < classes.Length then classes[i] else string i
    { Layer = layer
      LayerType = (findModule model layer).TypeName
      OutputShape = [| c; h; w |]
      Image = image
      Label = name label
      Predicted = name predicted
      Channels =
        [ for i in chosen ->
              let p = plane i
              { Channel = i; Min = float (Array.min p); Max = float (Array.max p); Mean = mean i } ]
      Values = chosen |> List.map plane |> Array.ofList }

/// One channel as three panels side by side, each side pixels high: the input, the channel's heatmap (bilinearly
/// enlarged to the input's size) and the heatmap laid over the input at half weight.
let panel (side: int) (input: Picture.Rgb) (maps: Maps) (i: int) =
    let m = maps.Channels[i]
    let h, w = maps.OutputShape[1], maps.OutputShape[2]
    let width = side * input.Width / input.Height
    let background = Picture.resize width side input
    let heat = Picture.heatmap h w (float32 m.Min) (float32 m.Max) maps.Values[i] |> Picture.resize width side
    Picture.grid 3 2 [ background; heat; Picture.blend 0.5 heat background ]

/// The file name of a channel's panel.
let panelName (maps: Maps) (channel: int) = $"""{maps.Layer.Replace('#', '_')}-c{channel}.png"""
