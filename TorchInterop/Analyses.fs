/// Hybrid's analyses on TorchSharp tensors and modules: CKA and centred Gram matrices of activations, Gaussian mixtures
/// of feature rows, and the activations of named layers captured by forward hooks. Each call copies the tensor once
/// into the layout Core.Gpu's kernels read (rows of samples, float32 for CKA, float64 for EM).
module Hybrid.TorchInterop.Analyses

open System.Collections.Generic
open TorchSharp
open Hybrid.Core.Gpu
open Hybrid.TorchInterop.Tensors

let private rows (t: TorchTensor) (dtype: torch.ScalarType) =
    let flat = t.detach().cpu().to_type(dtype).reshape(t.shape.[0], -1L).contiguous()
    flat, int t.shape.[0], int flat.shape.[1]

/// Activations (samples first, any trailing shape, flattened per sample) as Core.Gpu reads them.
let activations (t: TorchTensor) : Activations =
    let flat, samples, _ = rows t torch.ScalarType.Float32
    use _ = flat
    Activations.Of(flat.data<float32>().ToArray(), samples)

/// CKA between two activation tensors of the same samples (linear, RBF or debiased, as `options` says).
let cka (device: Device) (options: CkaOptions) (x: TorchTensor) (y: TorchTensor) =
    Cka.Score(device, activations x, activations y, options)

/// The centred linear Gram matrix of an activation tensor.
let centredGram (device: Device) (x: TorchTensor) =
    let a = activations x
    Gram.Centre(device, Gram.Linear(device, a), a.Samples)

/// A Gaussian mixture fitted by Core.Gpu's EM to the rows of `data` (samples first, flattened per sample).
let fitMixture (device: Device) (options: GaussianMixtureOptions) (data: TorchTensor) =
    let flat, n, d = rows data torch.ScalarType.Float64
    use _ = flat
    GaussianMixture.Fit(device, flat.data<float>().ToArray(), n, d, options)

/// The outputs of the named modules of `model` on `input` (evaluation mode, no autograd), by forward hooks, as
/// activations for CKA; a name that is no module of the model is the user's mistake.
let layerActivations
    (model: TorchModule)
    (layers: string list)
    (input: TorchTensor)
    : IReadOnlyDictionary<string, Activations> =
    let modules = dict [ for struct (path, m) in model.named_modules () -> path, m ]
    let captured = Dictionary<string, Activations>()

    let hooks =
        [ for name in layers ->
              match modules.TryGetValue name with
              | true, (:? TorchModule as m) ->
                  m.register_forward_hook (fun _ _ y ->
                      captured.[name] <- activations y
                      null)
              | _ -> raise (Hybrid.Core.Nn.InputException(name, "no module of that name in the TorchSharp model")) ]

    try
        use _ = torch.no_grad ()
        model.eval ()
        model.call input |> ignore
    finally
        for h in hooks do
            h.remove ()

    captured
