// A small re-engineering study: a grid of target problems x lr_mask x alpha x schedule, each cell one `hybrid
// reengineer` run through Analysis.FSharp, then the table of weights kept and accuracies. Edit the grid and go:
//   dotnet fsi scripts/reengineering.fsx MODEL DATASET [EPOCHS] [OUT]
// e.g. MODEL = a CIFAR-10 ResNet-20 (model.safetensors), DATASET = cifar10:test_batch.bin, EPOCHS = 30. Run
// `./hybrid --version` once first (it builds). Each cell resumes from its folder, so an interrupted study continues.
#load "load.fsx"

open System.IO
open Hybrid.Core.Gpu
open Hybrid.Analysis
open Hybrid.Analysis.Reengineering

let args = Load.scriptArgs 2 "dotnet fsi scripts/reengineering.fsx MODEL DATASET [EPOCHS] [OUT]"
let model, dataset = args.[0], args.[1]
let epochs = Load.argOr args 2 int 30
let out = Load.argOr args 3 id "reengineering-study"

// The grid: binary and multi-class targets (CIFAR-10 names here), SeaM's lr_mask and alpha around the published ones.
let targets = [ Some "airplane", None; None, Some "cat,deer,dog,horse" ]
let lrMasks = [ 0.05; 0.1 ]
let alphas = [ 1.0; 2.0 ]
let schedules = [ MaskTraining.Published; MaskTraining.Fast ]
// ImageNet normalisation, as the CIFAR-10 ResNets in the zoo's tests were trained with.
let mean, std = Some [| 0.485f; 0.456f; 0.406f |], Some [| 0.229f; 0.224f; 0.225f |]

let rows =
    [ for targetClass, targetClasses in targets do
          for lrMask in lrMasks do
              for alpha in alphas do
                  for schedule in schedules do
                      let name =
                          sprintf
                              "%s-lr%g-a%g-%A"
                              (defaultArg targetClass (defaultArg targetClasses ""))
                              lrMask
                              alpha
                              schedule
                      let request: Reengineer.Request =
                          { Model = model
                            Arch = None
                            Dataset = dataset
                            TargetClass = targetClass
                            TargetClasses = targetClasses
                            Split = None
                            Options =
                              { MaskTraining.defaults with
                                  LrMask = lrMask
                                  Alpha = alpha
                                  Epochs = epochs
                                  Schedule = schedule
                                  Mean = mean
                                  Std = std }
                            Out = Path.Combine(out, name.Replace(',', '+'))
                            Resume = true }
                      printfn "running %s" name
                      let r = Reengineer.run Device.Cpu request ignore
                      name, r ]

printfn "\n%-45s %8s %8s %8s %8s %6s" "cell" "kept" "seam" "fair" "reeng" "epoch"
for name, r in rows do
    printfn
        "%-45s %7.2f%% %7.2f%% %7.2f%% %7.2f%% %6d"
        name
        (100.0 * r.WeightsKept)
        (100.0 * r.Accuracy.OriginalSeam)
        (100.0 * r.Accuracy.OriginalFair)
        (100.0 * r.Accuracy.Reengineered)
        r.SelectedEpoch
