/// The abstract architecture of one of our own modules, by running it once on a dummy input under a Trace: one node
/// per op it ran, edges by tensor identity (the op that produced a tensor feeds every op that reads it), parameters
/// where an op reads one of the model's parameters or buffers, output shapes as computed, and the module hierarchy
/// with PyTorch's type names from Module.NamedModules.
module Hybrid.Analysis.FromModule

open System.Collections.Generic
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Modules
open Hybrid.Analysis.Architecture

let private attributeValue (value: obj) =
    match value with
    | :? int as i -> Some(Int(int64 i))
    | :? int64 as i -> Some(Int i)
    | :? bool as b -> Some(Int(if b then 1L else 0L))
    | :? float as f -> Some(Float f)
    | :? float32 as f -> Some(Float(float f))
    | :? string as s -> Some(Text s)
    | :? (int[]) as a -> Some(Ints(Array.map int64 a))
    | :? (int64[]) as a -> Some(Ints a)
    | _ -> None

/// Trace attribute names -> PyTorch's, where they differ.
let private attributeName (name: string) = if name = "kernel" then "kernel_size" else name

/// The spatial rank an op's first input implies (N, C, spatial...), for BatchNorm1d/2d and the pools.
let private spatialRank (op: TracedOp) =
    if op.Inputs.Length > 0 && op.Inputs[0].Dim >= 3 then Some(op.Inputs[0].Dim - 2) else None

/// The hierarchy of a module tree: every module below the root with its PyTorch type name and nesting depth.
let hierarchy (model: Module) : ModuleEntry list =
    [ for path, m in model.NamedModules() do
          if path <> "" then
              { Path = path; Type = m.TypeName; Depth = Graphs.depth path; Leaf = Seq.isEmpty (m.NamedChildren()) } ]

/// Traces `model` (in evaluation mode, without autograd) on `input` and returns its abstract architecture.
let ofModule (name: string) (labels: Labels) (model: Module) (input: Tensor) : Architecture =
    let ops, output =
        use _ = model.Eval()
        use _ = Autograd.NoGrad()
        use trace = Trace.Start model
        let output = model.Call input
        List.ofSeq trace.Ops, output
    let owned = Dictionary<Tensor, string>(HashIdentity.Reference)
    for key, t in Seq.append (model.NamedParameters()) (model.NamedBuffers()) do
        owned.TryAdd(t, key) |> ignore
    let producer = Dictionary<Tensor, int>(HashIdentity.Reference)
    let edges = ResizeArray<int * int>()
    let sources = ResizeArray<int>()
    let names = Dictionary<string, int>()
    let nodes =
        ops
        |> List.mapi (fun i op ->
            let mutable fed = false
            let mutable readsSource = false
            for x in op.Inputs do
                match producer.TryGetValue x with
                | true, p ->
                    edges.Add((p, i))
                    fed <- true
                | _ ->
                    if obj.ReferenceEquals(x, input) || owned.ContainsKey x then
                        readsSource <- true
            if readsSource || not fed then
                sources.Add i
            // Ops that hand back their input (dropout in evaluation) take over as its producer.
            producer[op.Output] <- i
            let parameters =
                [ for x in op.Inputs do
                      match owned.TryGetValue x with
                      | true, key -> key.Substring(key.LastIndexOf '.' + 1), Array.map int64 x.Shape
                      | _ -> () ]
            let layerType = LayerTypes.normalise op.Op (spatialRank op)
            let groups =
                match op.Attributes.TryGetValue "groups" with
                | true, (:? int as g) -> int64 g
                | _ -> 1L
            let weight = parameters |> List.tryPick (fun (p, s) -> if p = "weight" then Some s else None)
            let attributes =
                [ for KeyValue(k, v) in op.Attributes do
                      match attributeValue v with
                      | Some value -> attributeName k, value
                      | None -> () ]
                @ LayerTypes.weightAttributes layerType groups weight
            let baseName = if op.ModulePath = "" then op.Op else $"{op.ModulePath}/{op.Op}"
            let seen =
                match names.TryGetValue baseName with
                | true, k -> k
                | _ -> 0
            names[baseName] <- seen + 1
            { Id = i
              Name = (if seen = 0 then baseName else $"{baseName}_{seen}")
              LayerType = layerType
              Original = op.Op
              Attributes = Map.ofList attributes
              Parameters = parameters
              OutputShape = Some(Array.map int64 op.Output.Shape)
              ModulePath = op.ModulePath })
        |> Array.ofList
    let sinks =
        match producer.TryGetValue output with
        | true, p -> [ p ]
        | _ -> []
    Graphs.traced
        name
        "zoo"
        labels
        (hierarchy model)
        (ops |> List.countBy _.Op |> Map.ofList)
        { Nodes = nodes; Edges = edges.ToArray(); Sources = List.ofSeq sources; Sinks = sinks }

/// The dummy input a zoo architecture is traced on: three channels at the size it is made for (Zoo.ImageSize: 224 for
/// the ImageNet models, 32 for the CIFAR ones, 28 for the small CNN), and for dara-mlp (no image size) the 894 n-gram
/// features of the published DARA run.
let private dummyInput (name: string) =
    match Zoo.Zoo.ImageSize name with
    | 0 -> Tensor.Zeros(1, 894)
    | size -> Tensor.Zeros(1, 3, size, size)

/// The abstract architecture of a zoo model (Zoo.Create with its default sizes; dara-mlp gets the published run's
/// 894 features and 46 classes), traced on a dummy input. An unknown name raises ArgumentException listing the known.
let ofZoo (name: string) : Architecture =
    let model =
        if name = "dara-mlp" then Zoo.Zoo.Create(name, numClasses = 46, inputFeatures = 894) else Zoo.Zoo.Create name
    let labels =
        { ModelType = Some name
          Architectures = [ model.TypeName ]
          Task = (if name = "dara-mlp" then None else Some "image-classification") }
    ofModule name labels model (dummyInput name)
