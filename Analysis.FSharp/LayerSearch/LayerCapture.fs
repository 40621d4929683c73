/// Activation capture for the CKA index: forward hooks on every module of a model (or the chosen module paths and
/// types), one forward pass over the probe set, and per layer its CKA encoding computed as the layer's output arrives,
/// so that only one layer's activations are held at a time.
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

/// The modules of model a selection picks, in the model's module order; a listed path the model lacks is refused.
let modules (model: Module) (selection: Selection) =
    let all = model.NamedModules() |> Seq.map (fun struct (p, m) -> p, m) |> Seq.toList
    for path in selection.Paths do
        if not (all |> List.exists (fun (p, _) -> p = path)) then
            Input.fail "layers: the model has no module %s" path
    let wanted (path: string, m: Module) =
        path <> ""
        && ((selection.Paths.IsEmpty && selection.Types.IsEmpty)
            || List.contains path selection.Paths
            || List.contains m.TypeName selection.Types)
    all |> List.filter wanted

/// Runs model (in evaluation mode, recording off) on the probe images (n x shape) and returns the encoding of every
/// selected layer in the order the layers ran, and the layers skipped.
let capture (device: Device) (model: Module) (selection: Selection) (images: float32[]) (shape: int[]) =
    let n = images.Length / (shape |> Array.fold (*) 1)
    let captured = ResizeArray<CapturedLayer>()
    let skipped = ResizeArray<SkippedLayer>()
    let runs = Collections.Generic.Dictionary<string, int>()
    let observe (path: string) (m: Module) (input: Tensor) (output: Tensor) =
        runs[path] <-
            (match runs.TryGetValue path with
             | true, k -> k + 1
             | _ -> 1)
        let name = if runs[path] = 1 then path else $"{path}#{runs[path]}"
        if Object.ReferenceEquals(input, output) then
            skipped.Add { Path = name; Reason = "its output is its input" }
        elif output.Dim < 1 || output.Size 0 <> n || output.Dtype <> ScalarType.Float32 then
            skipped.Add { Path = name; Reason = $"its output {output} is not one float32 row per probe input" }
        else
            try
                let x = Activations.Of(output.ToArray<float32>(), n)
                let own = m.NamedParameters() |> Seq.filter (fun struct (p, _) -> not (p.Contains '.')) |> Seq.toList
                captured.Add
                    { Path = name
                      Type = m.TypeName
                      OutputShape = output.Shape[1..] |> Array.map int64
                      Parameters =
                        own |> List.map (fun struct (p, t) -> p + ":" + String.Join("x", t.Shape)) |> String.concat ","
                      ParameterCount = own |> List.sumBy (fun struct (_, t) -> int64 t.Numel)
                      Encoding = Hybrid.Analysis.Cka.encoding device x }
            with :? ArgumentException as e ->
                skipped.Add { Path = name; Reason = e.Message }
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
