/// `analyze-model`: the model-analysis views of one classifier on a dataset (confusion matrix with the most confident
/// images per cell, feature-activation maps, activation maximisation), written as PNG, CSV and JSON files with an
/// index.html that links them.
module Hybrid.Analysis.AnalyzeModelService

open System
open System.IO
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Data

/// The views `analyze-model` can write.
type View =
    | Confusion
    | Maps
    | Maximise

/// Everything a run needs, as plain values.
type Request =
    {
        Model: string
        Arch: string option
        Dataset: string
        Mean: float32[] option
        Std: float32[] option
        /// How many images of the dataset, from the first (None: all).
        Count: int option
        Out: string
        Views: View list
        /// The module whose channels maps and maximisation show (None: the model's last Conv2d).
        Layer: string option
        /// The channels to show (empty: maps show the most active, maximisation the first DefaultChannels).
        Channels: int list
        /// The classes to maximise when no layer is named (empty: the first ten).
        Classes: int list
        K: int
        /// The dataset index of the image the maps are drawn for.
        Image: int
        Batch: int
        Settings: Maximise.Settings
    }

/// The confusion view as the command reports it (confusion.json holds every prediction too).
type ConfusionSummary = { Accuracy: float; Correct: int; Classes: string list; Matrix: int[][]; Sheets: string list }

type MapFile = { Channel: int; Mean: float; Max: float; File: string }

type MapsSummary =
    { Layer: string; LayerType: string; Image: int; Label: string; Predicted: string; Files: MapFile list }

type MaximisedFile = { Target: string; SeedActivation: float; Activation: float; File: string }

type AnalyzeModelResult =
    {
        Model: string
        Network: string
        Dataset: string
        N: int
        Out: string
        /// index.html, which links every picture.
        Index: string
        Confusion: ConfusionSummary option
        Maps: MapsSummary option
        Maximised: MaximisedFile list
        Settings: Maximise.Settings option
        Device: string
    }

/// Parses a --views list ("confusion,maps,maximise").
let parseViews (text: string) =
    text.Split(',', StringSplitOptions.TrimEntries ||| StringSplitOptions.RemoveEmptyEntries)
    |> Array.map (fun v ->
        match v.ToLowerInvariant() with
        | "confusion" -> Confusion
        | "maps" -> Maps
        | "maximise"
        | "maximize" -> Maximise
        | _ -> Input.fail "--views: unknown view '%s' (confusion, maps, maximise)" v)
    |> Array.distinct
    |> List.ofArray

/// The module tree of a network, which maps and maximisation hook; an ONNX graph has none.
let moduleOf (path: string) (network: Networks.Network) =
    match network with
    | Networks.ZooModel(_, m) -> m
    | _ ->
        Input.fail
            "%s: maps and maximisation hook modules, which an ONNX graph does not expose; use the weights as .safetensors or .pt, or --views confusion"
            path

/// The layer maps and maximisation use: the one named, else the model's last Conv2d.
let layerOf (model: Modules.Module) (layer: string option) =
    match layer with
    | Some path ->
        ActivationMaps.findModule model path |> ignore
        path
    | None ->
        match model.NamedModules() |> Seq.filter (fun struct (_, m) -> m.TypeName = "Conv2d") |> Seq.tryLast with
        | Some(struct (path, _)) -> path
        | None -> Input.fail "--layer: the model has no Conv2d; name a module"

/// Refuses a dataset the network cannot classify: images of another shape, or another number of classes.
let checkFits (device: Hybrid.Core.Gpu.Device) (path: string) (network: Networks.Network) (data: LabelledImages) =
    let shape = $"{data.Channels}x{data.Height}x{data.Width}"
    let logits =
        try
            network.Forward(Tensor.Zeros(ScalarType.Float32, device, 1, data.Channels, data.Height, data.Width))
        with :? ArgumentException as e ->
            Input.fail "%s: the model does not take the dataset's %s images (%s)" path shape e.Message
    if logits.Dim <> 2 || logits.Size 1 <> data.ClassNames.Count then
        Input.fail
            "%s: the model gives %s class scores per image and the dataset has %d classes"
            path
            (ShapeOps.Format logits.Shape)
            data.ClassNames.Count

/// The images of data normalised by mean / std, as one array (N x C x H x W).
let normalised (data: LabelledImages) (mean: float32[] option) (std: float32[] option) =
    let options = Networks.inOrder (max 1 data.Count) mean std
    Input.guard "dataset" (fun () -> DataLoader(data, options).BatchAt(0, 0).Images)

/// The maximisation targets of a request: channels of the layer named, else classes.
let targets (r: Request) (model: Modules.Module) (classes: int) =
    match r.Layer with
    | Some _ ->
        let layer = layerOf model r.Layer
        let channels = if r.Channels.IsEmpty then List.init ActivationMaps.DefaultChannels id else r.Channels
        channels |> List.map (fun c -> Maximise.Channel(layer, c))
    | None ->
        let chosen = if r.Classes.IsEmpty then List.init (min 10 classes) id else r.Classes
        chosen |> List.map Maximise.Class

/// index.html: the confusion matrix as a table whose cells link their contact sheets, then the maps and the maximised
/// inputs, each picture with what it shows.
let private page (r: AnalyzeModelResult) =
    let e = HtmlPage.encode
    let figure (file: string) (caption: string) =
        $"""<figure><a href="{e file}"><img src="{e file}" alt="{e caption}"></a><figcaption>{e caption}</figcaption></figure>"""
    let confusion =
        match r.Confusion with
        | None -> ""
        | Some c ->
            let head = c.Classes |> List.map (fun n -> $"<th>{e n}</th>") |> String.concat ""
            let row i (counts: int[]) =
                let cells =
                    counts
                    |> Array.mapi (fun j n ->
                        if n = 0 then "<td>0</td>" else $"""<td><a href="confusion/cell-{i}-{j}.png">{n}</a></td>""")
                    |> String.concat ""
                $"<tr><th>{e c.Classes[i]}</th>{cells}</tr>"
            let rows = c.Matrix |> Array.mapi row |> String.concat "\n"
            $"""<h2>Confusion matrix</h2><p>accuracy {c.Accuracy:F4} ({c.Correct} of {r.N}); rows: true class, columns: predicted; a count links the cell's most confident images (<a href="confusion.csv">CSV</a>, <a href="confusion.json">JSON</a>)</p>
<table><thead><tr><th>true \ predicted</th>{head}</tr></thead><tbody>{rows}</tbody></table>"""
    let maps =
        match r.Maps with
        | None -> ""
        | Some m ->
            let figures =
                m.Files
                |> List.map (fun f -> figure f.File $"channel {f.Channel}: mean {f.Mean:G4}, max {f.Max:G4}")
                |> String.concat "\n"
            $"<h2>Activation maps of {e m.Layer} ({e m.LayerType})</h2><p>image {m.Image}, class {e m.Label}, predicted {e m.Predicted}; each: the input, the channel (dark: its minimum, white: its maximum) and the two overlaid</p>{figures}"
    let maximised =
        if r.Maximised.IsEmpty then
            ""
        else
            let figures =
                r.Maximised
                |> List.map (fun m -> figure m.File $"{m.Target}: {m.SeedActivation:G4} -> {m.Activation:G4}")
                |> String.concat "\n"
            $"<h2>Activation maximisation</h2><p>the target's activation on the starting noise, then on the image shown</p>{figures}"
    $"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{e r.Model}: model analysis</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{padding:2px 6px;text-align:right}} figure{{display:inline-block;margin:6px}} img{{image-rendering:pixelated}}</style>
</head><body><h1>{e r.Model}</h1><p>{e r.Network} on {e r.Dataset}, {r.N} images</p>
{confusion}
{maps}
{maximised}
</body></html>
"""

/// Runs the requested views and writes their files under r.Out. progress gets (stage, done, total).
let run (device: Hybrid.Core.Gpu.Device) (r: Request) (progress: string -> int -> int -> unit) =
    if r.Views.IsEmpty then
        Input.fail "--views: name at least one of confusion, maps, maximise"
    let all = ImageRun.load r.Dataset false
    let data =
        match r.Count with
        | Some n when n < 1 -> Input.fail "--count: %d; at least 1 image" n
        | Some n -> ImageRun.slice "--count" r.Dataset all 0 n
        | None -> all
    let network = Networks.load device r.Model r.Arch
    checkFits device r.Model network data
    Directory.CreateDirectory r.Out |> ignore
    let shape = [| data.Channels; data.Height; data.Width |]
    // Maps and maximisation need a module tree and a layer: refused before any view runs.
    let needsModule = List.contains Maps r.Views || List.contains Maximise r.Views
    let model = if needsModule then Some(moduleOf r.Model network) else None
    let layer = model |> Option.map (fun m -> layerOf m r.Layer)
    let confusion =
        if List.contains Confusion r.Views then
            let c = ConfusionView.compute device network r.Model data r.Mean r.Std r.Batch r.K (progress "confusion")
            let sheets = ConfusionView.write r.Out data c
            Some { Accuracy = c.Accuracy; Correct = c.Correct; Classes = c.Classes; Matrix = c.Matrix; Sheets = sheets }
        else
            None
    let maps =
        match model with
        | Some m when List.contains Maps r.Views ->
            if r.Image < 0 || r.Image >= data.Count then
                Input.fail "--image: %d is out of range: the dataset holds %d images" r.Image data.Count
            let one = ImageRun.slice "--image" r.Dataset data r.Image 1
            let layer = layer.Value
            let maps =
                Input.guard r.Model (fun () ->
                    ActivationMaps.compute
                        device
                        m
                        layer
                        r.Channels
                        shape
                        (normalised one r.Mean r.Std)
                        r.Image
                        (List.ofSeq data.ClassNames)
                        (int one.Labels[0]))
            let folder = Path.Combine(r.Out, "maps")
            Directory.CreateDirectory folder |> ignore
            let input = Picture.ofPlanes data.Channels data.Height data.Width one.Images
            let files =
                maps.Channels
                |> List.mapi (fun i ch ->
                    let name = ActivationMaps.panelName maps ch.Channel
                    Picture.save (Path.Combine(folder, name)) (ActivationMaps.panel 128 input maps i)
                    progress "maps" (i + 1) maps.Channels.Length
                    { Channel = ch.Channel; Mean = ch.Mean; Max = ch.Max; File = "maps/" + name })
            Some
                { Layer = maps.Layer
                  LayerType = maps.LayerType
                  Image = maps.Image
                  Label = maps.Label
                  Predicted = maps.Predicted
                  Files = files }
        | _ -> None
    let maximised =
        match model with
        | Some m when List.contains Maximise r.Views ->
            let chosen = targets r m data.ClassNames.Count
            let results =
                Input.guard r.Model (fun () ->
                    Maximise.run device m shape r.Mean r.Std r.Settings chosen (progress "maximise"))
            let folder = Path.Combine(r.Out, "maximise")
            Directory.CreateDirectory folder |> ignore
            List.map2
                (fun (t: Maximise.Target) (x: Maximise.Maximised) ->
                    let pixels = Picture.denormalise r.Mean r.Std data.Channels x.Image
                    let picture =
                        Picture.ofPlanes data.Channels data.Height data.Width pixels
                        |> Picture.resize (4 * data.Width) (4 * data.Height)
                    Picture.save (Path.Combine(folder, Maximise.fileName t)) picture
                    { Target = x.Target
                      SeedActivation = x.SeedActivation
                      Activation = x.Activation
                      File = "maximise/" + Maximise.fileName t })
                chosen
                results
        | _ -> []
    let result =
        { Model = r.Model
          Network = network.Describe
          Dataset = r.Dataset
          N = data.Count
          Out = r.Out
          Index = Path.Combine(r.Out, "index.html")
          Confusion = confusion
          Maps = maps
          Maximised = maximised
          Settings = (if maximised.IsEmpty then None else Some r.Settings)
          Device = device.Name }
    File.WriteAllText(result.Index, page result)
    result
