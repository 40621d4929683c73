/// The sub-problem a re-engineered model solves, and its data: one class against an equal, seeded sample of the rest
/// (binary), or a few classes of the original (multi-class: listed, a named group such as Fashion-MNIST's footwear, or
/// a CIFAR-100 superclass). One labelled file is split, seeded, into training, validation and test parts; the
/// re-engineered model is chosen on validation and scored once on test.
module Hybrid.Analysis.Reengineering.TargetProblem

open System
open System.Globalization
open Hybrid.Core.Nn.Data
open Hybrid.Analysis

type Target =
    /// One class, or a named group of classes (indices in the original model's classes), against the rest.
    | Binary of classes: int list
    /// A few classes of the original, in the order the new head numbers them.
    | Classes of int list

/// Named groups of classes per dataset family, for `--target-classes footwear`.
let private groups =
    [ "footwear", [ "Sandal"; "Sneaker"; "Ankle boot" ]
      "tops", [ "T-shirt/top"; "Pullover"; "Coat"; "Shirt" ]
      "vehicles", [ "airplane"; "automobile"; "ship"; "truck" ]
      "animals", [ "bird"; "cat"; "deer"; "dog"; "frog"; "horse" ] ]

/// The index of a class given by name (case-insensitive) or index among classNames.
let resolveClass (classNames: string list) (text: string) =
    let text = text.Trim()
    match Int32.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture) with
    | true, i when i < classNames.Length -> i
    | true, i ->
        Input.fail
            "target class %d is out of range: the dataset has %d classes (0 .. %d)"
            i
            classNames.Length
            (classNames.Length - 1)
    | _ ->
        match classNames |> List.tryFindIndex (fun n -> String.Equals(n, text, StringComparison.OrdinalIgnoreCase)) with
        | Some i -> i
        | None ->
            Input.fail "unknown target class '%s': expected an index or one of %s" text (String.Join(", ", classNames))

/// The classes of a named group (footwear, tops, vehicles, animals), when `text` names one.
let private group (classNames: string list) (text: string) =
    groups
    |> List.tryFind (fun (g, _) -> String.Equals(g, text.Trim(), StringComparison.OrdinalIgnoreCase))
    |> Option.map (fun (_, members) -> members |> List.map (resolveClass classNames))

/// The classes of `--target-class`: one class by name or index, or a named group (footwear against the rest).
let resolveBinary (classNames: string list) (text: string) =
    group classNames text |> Option.defaultWith (fun () -> [ resolveClass classNames text ])

/// The classes of `--target-classes`: a comma-separated list of names or indices, a named group (footwear, tops,
/// vehicles, animals) or, given the superclass of every image (CIFAR-100's coarse labels), one superclass name.
let resolveClasses (classNames: string list) (superclass: (string list * int64[] * int64[]) option) (text: string) =
    let parts =
        text.Split(',', StringSplitOptions.TrimEntries ||| StringSplitOptions.RemoveEmptyEntries) |> List.ofArray
    let classes =
        match parts with
        | [ one ] ->
            match group classNames one with
            | Some members -> members
            | None ->
                match superclass with
                | Some(coarseNames, fine, coarse) when coarseNames |> List.exists (fun n -> n = one) ->
                    let c = coarseNames |> List.findIndex (fun n -> n = one) |> int64
                    Seq.zip fine coarse
                    |> Seq.filter (fun (_, k) -> k = c)
                    |> Seq.map (fst >> int)
                    |> Seq.distinct
                    |> Seq.sort
                    |> List.ofSeq
                | _ -> [ resolveClass classNames one ]
        | many -> many |> List.map (resolveClass classNames)
    if classes.Length < 2 then
        Input.fail
            "--target-classes '%s' names %d class; a multi-class target needs at least 2 (use --target-class for one)"
            text
            classes.Length
    if (List.distinct classes).Length <> classes.Length then
        Input.fail "--target-classes '%s' names a class twice" text
    classes

/// The names of the new head's outputs.
let outputNames (classNames: string list) (target: Target) =
    match target with
    | Binary cs -> [ cs |> List.map (fun c -> classNames.[c]) |> String.concat "+"; "rest" ]
    | Classes cs -> cs |> List.map (fun c -> classNames.[c])

/// How many images go to training, validation and test.
type Split = { Train: int; Validation: int; Test: int; Seed: int64 }

/// The split when none is given, in percent of the images; the test part takes what the other two leave.
let defaultSplitPercent = {| Train = 60; Validation = 10 |}

/// "6000,1000,3000" as a split of `count` images; none given: `defaultSplitPercent`.
let parseSplit (count: int) (seed: int64) (text: string option) =
    let split =
        match text with
        | None ->
            let train = count * defaultSplitPercent.Train / 100
            let validation = count * defaultSplitPercent.Validation / 100
            { Train = train; Validation = validation; Test = count - train - validation; Seed = seed }
        | Some t ->
            match t.Split(',', StringSplitOptions.TrimEntries) |> Array.map Int32.TryParse with
            | [| (true, a); (true, b); (true, c) |] when a > 0 && b > 0 && c > 0 ->
                { Train = a; Validation = b; Test = c; Seed = seed }
            | _ -> Input.fail "--split '%s' is not three positive counts TRAIN,VAL,TEST" t
    if int64 split.Train + int64 split.Validation + int64 split.Test > int64 count then
        Input.fail
            "--split %d,%d,%d asks for more than the dataset's %d images"
            split.Train
            split.Validation
            split.Test
            count
    split

/// The images at `indices` of `data`, relabelled by `relabel`.
let subset (data: LabelledImages) (indices: int[]) (relabel: int64 -> int64) (classNames: string list) =
    let size = data.ImageSize
    let images = Array.zeroCreate (indices.Length * size)
    indices |> Array.iteri (fun i j -> Array.blit data.Images (j * size) images (i * size) size)
    LabelledImages(
        images,
        indices |> Array.map (fun j -> relabel data.Labels.[j]),
        indices.Length,
        data.Channels,
        data.Height,
        data.Width,
        classNames
    )

/// A seeded permutation of 0 .. n-1: Fisher-Yates on Core.Nn's generator, one stream per (seed, stream).
let permutation (seed: int64) (stream: int64) (n: int) =
    let order = Array.init n id
    let random = Hybrid.Core.Nn.Generator(seed * 1_000_003L + stream)
    for i in n - 1 .. -1 .. 1 do
        let j = min i (int (random.NextDouble() * float (i + 1)))
        let t = order.[i]
        order.[i] <- order.[j]
        order.[j] <- t
    order

/// The indices of the three parts of a split, in the order of a seeded permutation of the whole file.
let splitIndices (count: int) (split: Split) =
    let order = permutation split.Seed 0L count
    order.[0 .. split.Train - 1],
    order.[split.Train .. split.Train + split.Validation - 1],
    order.[split.Train + split.Validation .. split.Train + split.Validation + split.Test - 1]

/// The images of one part that belong to the target problem, as the problem's dataset (labels 0 .. k-1) and the
/// original labels of the same images. Binary: every target image (label 0) and an equal seeded sample of the others
/// (label 1), as SeaM draws it; multi-class: the images of the listed classes.
let problemData (data: LabelledImages) (target: Target) (part: int[]) (seed: int64) (stream: int64) =
    let names = outputNames (List.ofSeq data.ClassNames) target
    let chosen =
        match target with
        | Binary cs ->
            let isTarget i = List.contains (int data.Labels.[i]) cs
            let targets = part |> Array.filter isTarget
            let others = part |> Array.filter (isTarget >> not)
            let sample =
                permutation seed stream others.Length
                |> Array.truncate targets.Length
                |> Array.map (fun k -> others.[k])
            Array.append targets sample
        | Classes cs -> part |> Array.filter (fun i -> List.contains (int data.Labels.[i]) cs)
    let relabel (label: int64) =
        match target with
        | Binary cs -> if List.contains (int label) cs then 0L else 1L
        | Classes cs -> cs |> List.findIndex (fun c -> int64 c = label) |> int64
    subset data chosen relabel names, chosen |> Array.map (fun i -> data.Labels.[i])
