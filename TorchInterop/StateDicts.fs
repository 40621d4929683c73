/// State dicts both ways between a TorchSharp module and Core.Nn, by PyTorch state key. Elements are copied bit for bit
/// (float32, float64 and int64 alike), so weights that go TorchSharp -> Core.Nn -> TorchSharp come back unchanged.
module Hybrid.TorchInterop.StateDicts

open System.Collections.Generic
open TorchSharp
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Modules
open Hybrid.TorchInterop.Tensors
open Hybrid.TorchInterop.Modules

let private names (keys: seq<string>) = String.concat ", " keys

/// The module's parameters and buffers as Core.Nn tensors (copies), keyed as PyTorch keys them.
let toCore (m: TorchModule) : IReadOnlyDictionary<string, Tensor> =
    let state = Dictionary<string, Tensor>()

    for kv in m.state_dict () do
        state.[kv.Key] <- Tensors.ofTorch kv.Value

    state

/// Copies `state` into the module's parameters and buffers in place. Every key of one must be a key of the other, with
/// the same shape; otherwise InputException names the keys or the shapes that differ. As Core.Nn's LoadStateDict, it
/// accepts the BatchNorm counters of older checkpoints: `num_batches_tracked` absent (left as it is) or a one-element
/// vector where the module holds a scalar.
let copyInto (m: TorchModule) (state: IReadOnlyDictionary<string, Tensor>) =
    let target = m.state_dict ()
    let counter (key: string) = key.EndsWith "num_batches_tracked"

    let missing = target.Keys |> Seq.filter (fun k -> not (state.ContainsKey k || counter k)) |> Seq.toList

    let unexpected = state.Keys |> Seq.filter (target.ContainsKey >> not) |> Seq.toList

    if not missing.IsEmpty || not unexpected.IsEmpty then
        raise (
            InputException(
                "state dict",
                $"keys differ from the TorchSharp module's: missing {names missing}; unexpected {names unexpected}"
            )
        )

    use _ = torch.no_grad ()

    for kv in target do
        if state.ContainsKey kv.Key then
            let source = state.[kv.Key]

            let shape: int[] = kv.Value.shape |> Array.map int

            if source.Shape <> shape && not (counter kv.Key && source.Numel = 1) then
                raise (
                    InputException(
                        kv.Key,
                        $"shape {ShapeOps.Format source.Shape} does not fit the TorchSharp module's {ShapeOps.Format shape}"
                    )
                )

            use shared = Tensors.toTorch source
            kv.Value.copy_ (shared.reshape kv.Value.shape) |> ignore

/// Copies a TorchSharp module's state into a Core.Nn module (strict: the keys must match).
let loadIntoCore (target: Module) (source: TorchModule) =
    let result = target.LoadStateDict(toCore source)

    if not result.IsComplete then
        raise (
            InputException(
                target.TypeName,
                $"state keys differ: missing {names result.MissingKeys}; unexpected {names result.UnexpectedKeys}"
            )
        )

/// The TorchSharp twin of a Core.Nn module: the same structure (`mirror`), its weights and buffers copied, in float64
/// where the module's parameters are, and in the same training or evaluation mode.
let fromCore (m: Module) : TorchModule =
    let t = mirror m

    if m.Parameters() |> Seq.exists (fun p -> p.Dtype = ScalarType.Float64) then
        t.``to`` torch.ScalarType.Float64 |> ignore

    copyInto t (readOnlyDict (m.StateDict() |> Seq.map (fun struct (k, v) -> k, v)))

    if m.Training then t.train () else t.eval ()

    t
