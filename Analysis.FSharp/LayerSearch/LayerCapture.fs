/// Activation capture for the CKA index: forward hooks on every module of a model (or the chosen module paths and
/// types), one forward pass over the probe set, and per layer its CKA encoding computed as the layer's output arrives,
/// so that only one layer's activations are held at a time. The selection, layer naming, parameter text and encoding
/// are shared with the capture on ONNX graphs (OnnxCapture).
module Hybrid.Analysis.LayerCapture

open System
open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Modules

/// Which modules to observe: the module paths and type names listed (a module matches when it is in either list), or,
/// with both lists empty, every module except the model itself.
type Selection = { Paths: string list; Types: string list }

/// Every module but the root.
let everyLayer = { Paths = []; Types = [] }

/// One observed layer, in forward order.
type CapturedLayer =
    {
        /// The module path; a module run more than once in a forward pass gives path#2, path#3, ... for its later runs.
        Path: string
        Type: string
        /// The output shape of one probe input.
        OutputShape: int64[]
        /// The module's own parameters (not its children's) as "name:shape" ("weight:16x3x3x3,bias:16").
        Parameters: string
        /// How many values those parameters hold.
        ParameterCount: int64
        /// The packed normalised centred Gram matrix of its outputs (Cka.encoding).
        Encoding: float32[]
    }

/// A layer that was not indexed and why: it passes its input through unchanged (an empty Sequential shortcut: its
/// encoding would be the previous layer's), its outputs were identical on every probe input (CKA is undefined), or
/// it does not give one output per input.
type SkippedLayer = { Path: string; Reason: string }

/// The items a selection picks, in their order, each known by its name and type (module path and type name, or node
/// name and op type); a listed name that no item has is refused with missing ("the model has no module") and the name.
let picked (missing: string) (selection: Selection) (name: 'a -> string) (typeName: 'a -> string) (items: 'a list) =
    for path in selection.Paths do
        if not (items |> List.exists (fun x -> name x = path)) then
            Input.fail "layers: %s %s" missing path
    let everything = selection.Paths.IsEmpty && selection.Types.IsEmpty
    items
    |> List.filter (fun x ->
        everything || List.contains (name x) selection.Paths || List.contains (typeName x) selection.Types)

/// Names for layers seen in order: the first keeps its name, the k-th with the same name becomes name#k (a module run
/// more than once in a forward pass, or ONNX nodes that share a name).
let numbering () =
    let seen = Collections.Generic.Dictionary<string, int>()
    fun (name: string) ->
        let k =
            match seen.TryGetValue name with
            | true, k -> k + 1
            | _ -> 1
        seen[name] <- k
        if k = 1 then name else $"{name}#{k}"

/// Parameters as a layer row records them: "name:shape" joined by commas ("weight:16x3x3x3,bias:16"), and their count.
let describeParameters (parameters: (string * int64[]) list) =
    parameters |> List.map (fun (p, shape) -> p + ":" + String.Join("x", shape)) |> String.concat ",",
    parameters |> List.sumBy (fun (_, shape) -> Array.fold (*) 1L shape)

/// Why an output cannot be a layer observed on rows probe inputs (not float32, or not one row per input), if it cannot.
let rowsProblem (output: Tensor) (rows: int) =
    if output.Dim < 1 || output.Size 0 <> rows || output.Dtype <> ScalarType.Float32 then
        Some $"its output {output} is not one float32 row per probe input"
    else
        None

/// The CKA encoding of the n rows of values, or why there is none (all rows equal: CKA is undefined).
let encode (device: Device) (values: float32[]) (n: int) =
    try
        Ok(Hybrid.Analysis.Cka.encoding device (Activations.Of(values, n)))
    with :? ArgumentException as e ->
        Error e.Message

/// The modules of model a selection picks, in the model's module order; a listed path the model lacks is refused.
let modules (model: Module) (selection: Selection) =
    model.NamedModules()
    |> Seq.map (fun struct (p, m) -> p, m)
    |> Seq.filter (fun (p, _) -> p <> "")
    |> Seq.toList
    |> picked "the model has no module" selection fst (fun (_, m) -> m.TypeName)

/// Runs model (in evaluation mode, recording off) on the probe images (n x shape) and returns the encoding of every
/// selected layer in the order the layers ran, and the layers skipped.
let capture (device: Device) (model: Module) (selection: Selection) (images: float32[]) (shape: int[]) =
    let n = images.Length / (shape |> Array.fold (*) 1)
    let captured = ResizeArray<CapturedLayer>()
    let skipped = ResizeArray<SkippedLayer>()
    let named = numbering ()
    let observe (path: string) (m: Module) (input: Tensor) (output: Tensor) =
        let name = named path
        match
            (if Object.ReferenceEquals(input, output) then Some "its output is its input" else rowsProblem output n)
        with
        | Some reason -> skipped.Add { Path = name; Reason = reason }
        | None ->
            match encode device (output.ToArray<float32>()) n with
            | Error reason -> skipped.Add { Path = name; Reason = reason }
            | Ok encoding ->
                let own = m.NamedParameters() |> Seq.filter (fun struct (p, _) -> not (p.Contains '.')) |> Seq.toList
                let parameters, count = describeParameters [ for struct (p, t) in own -> p, Array.map int64 t.Shape ]
                captured.Add
                    { Path = name
                      Type = m.TypeName
                      OutputShape = output.Shape[1..] |> Array.map int64
                      Parameters = parameters
                      ParameterCount = count
                      Encoding = encoding }
    let hooks = [ for path, m in modules model selection -> m.RegisterForwardHook(fun m x y -> observe path m x y) ]
    try
        use _ = Autograd.NoGrad()
        use _ = model.Eval()
        let x = Tensor.Wrap(images, Array.append [| n |] shape, device)
        model.Call x |> ignore
    finally
        for h in hooks do
            h.Dispose()
    List.ofSeq captured, List.ofSeq skipped
