/// The naming stage of `hybrid demo`, on nothing but what the demo made itself: the zoo architectures that stage 5
/// extracted, labelled by their architecture class and multiplied by seeded perturbations (layers dropped or repeated,
/// as a family's variants differ), train the naming classifier with its class mixtures; then the files of stage 4 and
/// the zoo are checked as declared, beside copies given a wrong declared class, which the flags must catch.
module Hybrid.Cli.DemoNaming

open System.IO
open Hybrid.Core.Gpu
open Hybrid.Analysis
open Hybrid.Analysis.Architecture
open Hybrid.Analysis.Naming
open Hybrid.Cli.Console

/// Training models per class: each class's architectures share this many perturbed copies.
let private perClass = 24

/// Layers dropped or repeated in one perturbed copy, at most.
let private maxEdits = 4

let private declaring (label: string) (name: string) (a: Architecture) =
    { a with Name = name; Labels = { a.Labels with Architectures = [ label ] } }

/// What the stage found: the injected copies flagged, and the correctly labelled models flagged.
type Outcome = { Injected: int; Caught: int; Honest: int; FalseFlags: int }

/// Trains on perturbed copies of the zoo architectures (labelled by their architecture class), writes the classifier
/// to out, then checks the files (declared as the SmallCnn they are), the zoo and two mislabelled copies, and prints.
let train (device: Device) (zoo: Architecture list) (files: Architecture list) (out: string) =
    let seed = 0
    let classOf (a: Architecture) = List.head a.Labels.Architectures
    let corpus =
        zoo
        |> List.groupBy classOf
        |> List.collect (fun (_, members) ->
            let copies = (perClass + members.Length - 1) / members.Length - 1
            members |> List.mapi (fun i a -> a :: Perturbation.variants (seed + i) copies maxEdits a) |> List.concat)
    heading
        $"Stage 8: naming anomalies: a classifier of architecture class trained on {zoo.Length} zoo architectures and {corpus.Length - zoo.Length} seeded perturbations of them"
    let folds = 3
    let request: AnomalyService.TrainRequest =
        { Field = Labels.Arch
          MinClassCount = 2
          Seed = seed
          Settings = { CrossValidation.defaults with Folds = folds }
          Rule = Flags.defaults
          Out = out }
    AnomalyCommand.printTrained folds (AnomalyService.train device request corpus ignore)
    let smallCnn = zoo |> List.find (fun a -> a.Name = "small-cnn") |> classOf
    let resnet20 = zoo |> List.find (fun a -> a.Name = "cifar-resnet20")
    let mislabelled = " (mislabelled)"
    let injected =
        [ yield! files |> List.truncate 1 |> List.map (fun f -> declaring (classOf resnet20) (f.Name + mislabelled) f)
          declaring smallCnn (resnet20.Name + mislabelled) resnet20 ]
    let honest = (files |> List.map (fun f -> declaring smallCnn f.Name f)) @ zoo
    let result = AnomalyService.check device out request.Rule (honest @ injected)
    AnomalyCommand.printChecked (honest.Length + injected.Length) result
    let flagged injectedOnes =
        result.Results |> List.filter (fun r -> r.Flagged && r.Id.EndsWith mislabelled = injectedOnes) |> List.length
    let outcome =
        { Injected = injected.Length; Caught = flagged true; Honest = honest.Length; FalseFlags = flagged false }
    printfn
        "the injected mislabelled copies: %d of %d flagged; correctly labelled models flagged: %d of %d"
        outcome.Caught
        outcome.Injected
        outcome.FalseFlags
        outcome.Honest
    outcome

/// The stage on the catalog of stage 5 in folder: its zoo architectures and the files of stage 4.
let run (device: Device) (folder: string) =
    let extracted = AnomalyService.catalogModels (Path.Combine(folder, Catalog.defaultPath))
    let zoo, files = extracted |> List.partition (fun a -> a.Format = "zoo")
    train device zoo files (Path.Combine(folder, "naming")) |> ignore
