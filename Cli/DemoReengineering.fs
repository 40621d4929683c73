/// The re-engineering stage of `hybrid demo`: the small CNN that stage 4 trained, re-engineered with SeaM's masks for
/// Fashion-MNIST's footwear (Sandal, Sneaker, Ankle boot) against the rest, a few epochs of the fast schedule.
module Hybrid.Cli.DemoReengineering

open System.IO
open Hybrid.Core.Gpu
open Hybrid.Analysis
open Hybrid.Analysis.Reengineering
open Hybrid.Cli.Console

let run (device: Device) (folder: string) =
    let out = Path.Combine(folder, "reengineered")
    let options = { MaskTraining.defaults with Epochs = 6; Schedule = MaskTraining.Fast; FastRampEpochs = 4; Seed = 1L }
    heading
        $"Stage 6: re-engineering small-cnn for footwear against the rest (SeaM's masks, {options.Epochs} epochs of the fast schedule; {device.Name})"
    // A fresh start each time: the demo shows re-engineering, not resumption.
    Directory.CreateDirectory out |> ignore
    File.Delete(MaskTraining.checkpointPath out)
    let progress = progressLine "reengineer"
    let report (p: MaskTraining.Progress) =
        match p with
        | Training.BatchDone(_, index, count, _) -> progress (index + 1) count
        | Training.EpochDone e ->
            note
                $"epoch {e.Epoch + 1}/{options.Epochs}: validation accuracy {e.ValidationAccuracy:F4}, weight ratio {100.0 * e.WeightRatio:F2}%%"
        | Training.Resumed _ -> ()
    let request: Reengineer.Request =
        { Model = Path.Combine(folder, "small-cnn.safetensors")
          Arch = Some "small-cnn"
          Dataset = "fashion-mnist"
          TargetClass = Some "footwear"
          TargetClasses = None
          Split = Some "6000,1000,3000"
          Options = options
          Out = out
          Resume = false }
    ReengineerCommand.printReport (Reengineer.run device request report)
