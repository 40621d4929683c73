/// The training stage of `hybrid demo`: a small CNN trained for one epoch on Fashion-MNIST (Debian's
/// dataset-fashion-mnist), saved in every format Hybrid writes, and each file loaded back and evaluated.
module Hybrid.Cli.DemoTraining

open System.IO
open Hybrid.Core.Gpu
open Hybrid.Analysis
open Hybrid.Cli.Console

/// Trains, saves and re-evaluates; the files go to <paramref name="folder"/>. Returns the folder.
let run (device: Device) (folder: string) =
    let trainSet = Hybrid.Core.Nn.Data.FashionMnist.Load(train = true)
    let testSet = Hybrid.Core.Nn.Data.FashionMnist.Load(train = false)
    let options = { Training.defaults "small-cnn" with Epochs = 1; BatchSize = 64; LearningRate = 0.05; Seed = 1L }
    heading
        $"Stage 4: training small-cnn on {trainSet.Count} Fashion-MNIST images, 1 epoch (SGD, Nesterov, cosine lr {options.LearningRate}; {device.Name})"
    Directory.CreateDirectory folder |> ignore
    let first = Path.Combine(folder, "small-cnn.safetensors")
    // A fresh start each time: the demo shows training, not resumption.
    File.Delete(Training.checkpointPath first)
    let progress = progressLine "train"
    let report (p: Training.Progress) =
        match p with
        | Training.BatchDone(_, index, count, _) ->
            if index % 50 = 0 || index = count - 1 then
                progress (index + 1) count
        | _ -> ()
    let model, epochs = Training.train device options trainSet (Some testSet) first false report
    let last = List.last epochs
    printfn
        "epoch 1: loss %.4f, train accuracy %.4f, test accuracy %.4f, %.1f s"
        last.Loss
        last.TrainAccuracy
        (defaultArg last.TestAccuracy nan)
        last.Seconds
    let shape = [| testSet.Channels; testSet.Height; testSet.Width |]
    let others = [ "small-cnn.pt"; "small-cnn.onnx" ] |> List.map (fun name -> Path.Combine(folder, name))
    let reloaded =
        Train.saveAndReload
            device
            model
            shape
            (readOnlyDict [ "arch", "small-cnn" ])
            others
            (first :: others)
            testSet
            500
    table
        [ "file"; "size"; "loaded as"; "test accuracy" ]
        [ for r in reloaded ->
              [ Path.GetFileName r.Path; $"{r.Bytes / 1024L} KiB"; r.LoadedAs; r.Accuracy.ToString "F4" ] ]
    printfn
        "each file was loaded back (architecture found from its tensor names; ONNX run as a graph) and evaluated on the %d test images"
        testSet.Count
    folder
