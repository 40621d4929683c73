/// `gmm fit`: a Gaussian mixture fitted by EM to the rows of a tensor or CSV file, as a result record.
module Hybrid.Analysis.GmmFit

open Hybrid.Core.Gpu

/// The fit of `gmm fit`: its figures (serialised as the JSON result) and the model.
type GmmResult = { Summary: GaussianMixture.Summary; Model: GaussianMixtureModel }

/// Fits options to the points of data (see TensorInput.load) and writes the model to out when given.
let run
    (device: Device)
    (options: GaussianMixtureOptions)
    (data: TensorInput.Matrix)
    (out: string option)
    (progress: MixtureProgress -> unit)
    =
    let model = Input.guard "gmm fit" (fun () -> GaussianMixture.fit device options (Some progress) data)
    let summary = GaussianMixture.summarise device options model data
    out |> Option.iter (fun path -> GaussianMixture.save path summary model)
    { Summary = summary; Model = model }
