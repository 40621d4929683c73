/// The layer-search stage of `hybrid demo`: the small CNN that stage 4 trained and the same architecture untrained
/// (seeded) are indexed on the first 100 Fashion-MNIST test images; each trained layer's best match in the untrained
/// network, and the layer-by-layer heatmap with the structural comparison.
module Hybrid.Cli.DemoLayerSearch

open System.IO
open Hybrid.Analysis
open Hybrid.Cli.Console

let run (device: Hybrid.Core.Gpu.Device) (folder: string) =
    heading
        "Stage 7: layer search: small-cnn trained (stage 4) against small-cnn untrained, on the first 100 Fashion-MNIST test images"
    let probe = ProbeSet.load "fashion-mnist" 0 ProbeSet.DefaultCount None None
    let untrained = Path.Combine(folder, "small-cnn-untrained.safetensors")
    let fresh =
        Hybrid.Core.Nn.Zoo.Zoo.Create("small-cnn", numClasses = 10, inChannels = probe.Row.InputShape[0], seed = 1L)
    Hybrid.Core.Nn.Formats.StateDicts.SaveSafetensors(untrained, fresh.StateDict())
    let db = Path.Combine(folder, "layers.db")
    // A fresh index each time: the demo shows indexing, not replacing.
    for f in [ db; db + "-wal"; db + "-shm" ] do
        File.Delete f
    let model path name =
        { LayerIndex.ModelToIndex.Path = path
          LayerIndex.ModelToIndex.Name = name
          LayerIndex.ModelToIndex.Version = LayerIndex.DefaultVersion
          LayerIndex.ModelToIndex.Arch = Some "small-cnn"
          LayerIndex.ModelToIndex.Accuracy = None
          LayerIndex.ModelToIndex.TrainedOn = None }
    let indexed =
        LayerIndex.run
            device
            db
            probe
            LayerCapture.everyLayer
            [ model (Path.Combine(folder, "small-cnn.safetensors")) "trained"; model untrained "untrained" ]
            (fun _ _ _ -> ())
    printfn
        "probe set %s (n = %d); indexed %s"
        probe.Row.Id
        probe.Row.Count
        (indexed.Models |> List.map (fun m -> $"{m.Model} ({m.Layers} layers)") |> String.concat ", ")
    let hits =
        use catalog = Catalog.openOrCreate db
        LayerSearch.search device catalog { LayerSearch.query "trained" [] with K = 1 }
    table
        [ "trained layer"; "best match in untrained"; "linear CKA" ]
        [ for q in hits do
              for h in q.Results -> [ q.Layer; h.Layer; h.Score.ToString "F4" ] ]
    let r = LayerCompare.run db "trained" "untrained" None (Path.Combine(folder, "layer-search"))
    for s in r.Comparison.Structure.Summary do
        printfn "%s" s
    printfn "heatmap: %s" r.Html
