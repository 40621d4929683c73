// Layer search over a folder of models: index every weight file and ONNX graph of FOLDER on a probe set, print each
// model's best match per stage in every other model, and write the layer-by-layer CKA heatmap of the first two models.
//   dotnet fsi scripts/layer_search.fsx FOLDER PROBE-SPEC [OUT]
// e.g. dotnet fsi scripts/layer_search.fsx models/ cifar10:data/test_batch.bin layer-search
// The probe set is the first 100 images of PROBE-SPEC with ImageNet normalisation; edit `probe` to change it.
#load "load.fsx"

open System.IO
open Hybrid.Core.Gpu
open Hybrid.Analysis

let folder, spec, out =
    match fsi.CommandLineArgs |> Array.toList |> List.tail with
    | [ folder; spec ] -> folder, spec, "layer-search"
    | [ folder; spec; out ] -> folder, spec, out
    | _ -> failwith "usage: dotnet fsi scripts/layer_search.fsx FOLDER PROBE-SPEC [OUT]"

let device = Device.Parse "auto"
let db = Path.Combine(out, "layers.db")
Directory.CreateDirectory out |> ignore

let probe = ProbeSet.load spec 0 100 (Some [| 0.485f; 0.456f; 0.406f |]) (Some [| 0.229f; 0.224f; 0.225f |])

// Every weight file and ONNX graph directly in the folder, and every model folder's model.safetensors and model.onnx:
// each becomes one model.
let files =
    [ for f in Directory.GetFiles folder do
          if List.contains (Path.GetExtension f) [ ".safetensors"; ".pt"; ".pth"; ".th"; ".onnx" ] then
              yield f
      for d in Directory.GetDirectories folder do
          for name in [ "model.safetensors"; "model.onnx" ] do
              let f = Path.Combine(d, name)
              if File.Exists f then
                  yield f ]

let isOnnx (f: string) = Path.GetExtension f = ".onnx"

// A model folder's graph holds the same weights as its weight file and would get the same name: "-onnx" tells them apart.
let models =
    [ for f in files ->
          { LayerIndex.ModelToIndex.Path = f
            LayerIndex.ModelToIndex.Name = LayerIndex.modelName f + (if isOnnx f then "-onnx" else "")
            LayerIndex.ModelToIndex.Version = LayerIndex.DefaultVersion
            LayerIndex.ModelToIndex.Arch = None
            LayerIndex.ModelToIndex.Accuracy = None
            LayerIndex.ModelToIndex.TrainedOn = None } ]

let indexed =
    LayerIndex.run device db probe LayerCapture.everyLayer models (fun i n m ->
        printfn "[%d/%d] %s: %d layers in %.1f s" i n m.Model m.Layers m.Seconds)

// A stage is a top-level module (conv1, layer1, ...): its output is the stage's output. An ONNX graph has no modules,
// only nodes named by module path ("layer1.layer1.2.relu_1.Relu"): a stage's output there is the last node under it.
let stagesOf (m: LayerIndex.IndexedModel) (layers: string list) =
    if isOnnx m.Source then
        layers |> List.groupBy (fun l -> l.Split('.')[0]) |> List.map (snd >> List.last)
    else
        layers |> List.filter (fun l -> not (l.Contains '.'))

use catalog = Catalog.openOrCreate db

for m in indexed.Models do
    let stages =
        (LayerSearch.load catalog m.Model (Some m.Version) (Some probe.Row.Id)).Layers
        |> List.map (fun (l, _) -> l.Layer)
        |> stagesOf m
    printfn "\n%s: best match of each stage in another model" m.Model
    for hits in LayerSearch.search device catalog { LayerSearch.query m.Model stages with K = 1 } do
        match hits.Results with
        | best :: _ -> printfn "  %-28s -> %s %s (CKA %.4f)" hits.Layer best.Model best.Layer best.Score
        | [] -> printfn "  %-10s -> no other model" hits.Layer

match indexed.Models with
| a :: b :: _ ->
    let r = LayerCompare.run db a.Model b.Model (Some probe.Row.Id) (Path.Combine(out, "compare"))
    printfn "\nheatmap of %s vs %s: %s" a.Model b.Model r.Html
| _ -> printfn "\none model: no heatmap"
