/// The zoo architecture whose state a checkpoint holds, derived from the checkpoint's tensor names and shapes: the
/// state keys select the one candidate (keys do not depend on class or channel counts), and only that candidate is
/// built, at the sizes the shapes imply, to compare every shape. `hybrid eval` loads weights into the model found here,
/// and extraction traces it, so that one model's checkpoint and ONNX file give one graph.
module Hybrid.Analysis.ZooMatch

open System.Collections.Concurrent
open System.Collections.Generic
open Hybrid.Core.Nn.Zoo

/// Classes and input channels that tensors (names and shapes, in file order) imply: the rows of the last weight matrix,
/// the input channels of the first convolution or weight matrix.
let impliedSizes (tensors: (string * int64[]) list) =
    let weights = tensors |> List.filter (fun (n, _) -> n.EndsWith "weight") |> List.map snd
    let classes = weights |> List.filter (fun s -> s.Length = 2) |> List.tryLast |> Option.map (fun s -> int s[0])
    let channels = weights |> List.tryFind (fun s -> s.Length = 4 || s.Length = 2) |> Option.map (fun s -> int s[1])
    classes, channels

/// State a checkpoint may lack or store as a one-element vector (BatchNorm's counter, absent before PyTorch 0.4.1).
let private optional (key: string) = key = "num_batches_tracked" || key.EndsWith ".num_batches_tracked"

let private required (keys: string seq) = keys |> Seq.filter (optional >> not) |> Set.ofSeq

/// Each zoo image architecture's required state keys, built once per process at default sizes when first needed.
let private keySets = ConcurrentDictionary<string, Set<string>>()

let private keysOf (name: string) =
    keySets.GetOrAdd(name, fun n -> (Zoo.Create n).StateDict() |> Seq.map (fun struct (k, _) -> k) |> required)

/// A zoo image architecture at the class and input-channel counts a checkpoint implies.
type Fit =
    { Name: string
      Classes: int
      Channels: int }

    /// A freshly initialised module of this architecture at these sizes.
    member f.Create() = Zoo.Create(f.Name, numClasses = f.Classes, inChannels = f.Channels)

/// Each fit's state shapes, from one module built per process: a catalog of thousands of ResNet-50 checkpoints builds
/// (and initialises) one ResNet-50, not thousands.
let private shapeSets = ConcurrentDictionary<Fit, Lazy<IReadOnlyDictionary<string, int64[]>>>()

let private shapesOf (fit: Fit) =
    shapeSets
        .GetOrAdd(
            fit,
            fun f ->
                lazy
                    (f.Create().StateDict()
                     |> Seq.map (fun struct (k, t) -> KeyValuePair(k, Array.map int64 t.Shape))
                     |> Dictionary
                    :> IReadOnlyDictionary<_, _>)
        )
        .Value

/// The zoo image architecture with exactly these state keys and shapes (as Core.Nn's readers give them: DataParallel's
/// "module." dropped), at the class and channel counts they imply, if one has. Every zoo image model begins with a
/// convolution, so tensors without a rank-4 weight build nothing (a transformer checkpoint costs no model
/// construction).
let find (tensors: (string * int64[]) list) : Fit option =
    if not (tensors |> List.exists (fun (n, s) -> s.Length = 4 && n.EndsWith "weight")) then
        None
    else
        let keys = tensors |> List.map fst |> required
        let classes, channels = impliedSizes tensors
        Zoo.ImageNames
        |> Seq.tryFind (fun name -> keysOf name = keys)
        |> Option.bind (fun name ->
            let fit = { Name = name; Classes = defaultArg classes 0; Channels = defaultArg channels 3 }
            let own = shapesOf fit
            let fits (key, shape) =
                optional key
                || (match own.TryGetValue key with
                    | true, s -> s = shape
                    | _ -> false)
            if tensors |> List.forall fits then Some fit else None)
