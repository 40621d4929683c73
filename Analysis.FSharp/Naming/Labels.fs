/// The classes a naming classifier learns: one label field of each model (`model_type`, `arch` or `task`), with the
/// classes below a minimum count merged into `Others` as DARA does. A class left with one model cannot be split
/// between training and test parts; it is reported and kept for training only, never dropped silently.
module Hybrid.Analysis.Naming.Labels

open Hybrid.Core.Nn
open Hybrid.Analysis.Architecture

/// The label a classifier predicts.
type Field =
    | ModelType
    | Arch
    | Task

/// Each field with its names: the first is its name in trace files and reports; the others are read too.
let private fields = [ ModelType, [ "model_type"; "model-type" ]; Arch, [ "arch"; "architecture" ]; Task, [ "task" ] ]

/// The field for its trace-file name (model_type, arch, task).
let parseField (text: string) = Hybrid.Analysis.Input.parseChoice "--label" "label field" fields text

/// The field's name in trace files and reports.
let fieldName (field: Field) = Hybrid.Analysis.Input.choiceName fields field

/// The class every merged class becomes.
[<Literal>]
let Others = "Others"

/// The model's declared label in the field, if it has one.
let declared (field: Field) (architecture: Architecture) =
    match field with
    | ModelType -> architecture.Labels.ModelType
    | Arch -> List.tryHead architecture.Labels.Architectures
    | Task -> architecture.Labels.Task

/// Labels of a set of models as classes.
type Assignment =
    {
        Field: Field
        MinClassCount: int
        /// The class names, in ordinal order (Others among them when anything was merged).
        Classes: string[]
        /// Each model's class index.
        Targets: int[]
        /// The labels merged into Others, with their counts.
        Merged: (string * int) list
        /// Models whose class holds no other model: trained on, never tested.
        Singletons: int list
    }

/// The classes of the models' labels in `field`; a model without one raises InputException naming it.
let assign (field: Field) (minClassCount: int) (models: Architecture list) =
    if minClassCount < 1 then
        raise (InputException("--min-class-count", $"{minClassCount} must be at least 1"))
    let labels =
        models
        |> List.map (fun m ->
            match declared field m with
            | Some l when l <> "" -> l
            | _ -> raise (InputException(m.Name, $"no {fieldName field} label")))
    let counts = labels |> List.countBy id |> Map.ofList
    let merged = counts |> Map.filter (fun _ c -> c < minClassCount) |> Map.toList
    let classOf l = if counts[l] < minClassCount then Others else l
    let final = labels |> List.map classOf
    let classes =
        final |> List.distinct |> List.sortWith (fun a b -> System.String.CompareOrdinal(a, b)) |> Array.ofList
    let index = classes |> Array.mapi (fun i c -> c, i) |> dict
    let targets = final |> List.map (fun c -> index[c]) |> Array.ofList
    let sizes = targets |> Array.countBy id |> dict
    { Field = field
      MinClassCount = minClassCount
      Classes = classes
      Targets = targets
      Merged = merged
      Singletons =
        [ for i in 0 .. targets.Length - 1 do
              if sizes[targets[i]] = 1 then
                  i ] }

/// The class a declared label counts as for a classifier with these classes: itself, else Others when the classifier
/// has that class, else none.
let classFor (classes: string[]) (label: string) =
    match Array.tryFindIndex ((=) label) classes with
    | Some i -> Some i
    | None -> Array.tryFindIndex ((=) Others) classes
