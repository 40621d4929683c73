/// Gaussian mixtures for analyses and scripts: fitting from matrices, the figures a command prints, saving a model,
/// and choosing the number of components by BIC. The EM itself is Core.Gpu's (Hybrid.Core.Gpu.GaussianMixture).
module Hybrid.Analysis.GaussianMixture

open System
open System.Collections.Generic
open System.Text.Json.Serialization
open Hybrid.Core.Gpu
open Hybrid.Core.Nn.Formats
open Hybrid.Core.Nn.Formats.Safetensors
open Hybrid.Analysis.TensorInput

/// The initialisation for its scikit-learn name (kmeans, k-means++, random, random_from_data).
let parseInit (name: string) =
    match name.Trim().ToLowerInvariant() with
    | "kmeans" -> MixtureInit.Kmeans
    | "k-means++" -> MixtureInit.KmeansPlusPlus
    | "random" -> MixtureInit.Random
    | "random_from_data"
    | "random-from-data" -> MixtureInit.RandomFromData
    | _ -> Input.fail "unknown init '%s': expected kmeans, k-means++, random or random_from_data" name

/// scikit-learn's name of an initialisation.
let initName (init: MixtureInit) =
    match init with
    | MixtureInit.Kmeans -> "kmeans"
    | MixtureInit.KmeansPlusPlus -> "k-means++"
    | MixtureInit.Random -> "random"
    | _ -> "random_from_data"

/// What a fit reports, as `hybrid gmm fit` prints it (scikit-learn's attribute names in the JSON form).
type Summary =
    { LowerBound: float
      NIter: int
      Converged: bool
      Bic: float
      Aic: float
      Weights: float[]
      [<JsonPropertyName "n_samples">]
      Samples: int
      [<JsonPropertyName "n_features">]
      Dimensions: int
      [<JsonPropertyName "n_components">]
      Components: int
      [<JsonPropertyName "covariance_type">]
      Covariance: string
      Init: string
      Seed: int
      NInit: int
      Device: string }

/// Fits a mixture to the rows of data on device; onIteration (when given) sees every EM iteration.
let fit
    (device: Device)
    (options: GaussianMixtureOptions)
    (onIteration: (MixtureProgress -> unit) option)
    (data: Matrix)
    =
    let callback = onIteration |> Option.map (fun f -> Action<MixtureProgress> f) |> Option.toObj
    Hybrid.Core.Gpu.GaussianMixture.Fit(device, data.Values, data.Rows, data.Columns, options, null, callback)

/// The figures of a fitted model on the data it was fitted to.
let summarise (device: Device) (options: GaussianMixtureOptions) (model: GaussianMixtureModel) (data: Matrix) =
    { LowerBound = model.LowerBound
      NIter = model.NIter
      Converged = model.Converged
      Bic = model.Bic(data.Values, device)
      Aic = model.Aic(data.Values, device)
      Weights = model.Weights
      Samples = data.Rows
      Dimensions = data.Columns
      Components = options.Components
      Covariance = options.Covariance.SklearnName()
      Init =
        if isNull options.WeightsInit && isNull options.MeansInit && isNull options.PrecisionsInit then
            initName options.Init
        else
            "given"
      Seed = options.Seed
      NInit = options.NInit
      Device = device.Name }

/// Writes the model as safetensors (weights, means, covariances, precisions_cholesky, float64, scikit-learn's shapes
/// and names) with the summary as metadata, so that the file says how it was made.
let save (path: string) (summary: Summary) (model: GaussianMixtureModel) =
    let k, d = int64 summary.Components, int64 summary.Dimensions
    let matrixShape =
        match model.CovarianceType with
        | CovarianceType.Full -> [| k; d; d |]
        | CovarianceType.Tied -> [| d; d |]
        | CovarianceType.Diag -> [| k; d |]
        | _ -> [| k |]
    let metadata = Dictionary<string, string>()
    for key, value in
        [ "format", "hybrid.gaussian_mixture"
          "covariance_type", summary.Covariance
          "init", summary.Init
          "seed", string summary.Seed
          "n_init", string summary.NInit
          "n_iter", string summary.NIter
          "converged", (if summary.Converged then "true" else "false")
          "lower_bound", summary.LowerBound.ToString "R"
          "bic", summary.Bic.ToString "R"
          "aic", summary.Aic.ToString "R"
          "n_samples", string summary.Samples ] do
        metadata[key] <- value
    SafetensorsWriter.Write(
        path,
        [ TensorData.Float64("weights", [| k |], model.Weights)
          TensorData.Float64("means", [| k; d |], model.Means)
          TensorData.Float64("covariances", matrixShape, model.Covariances)
          TensorData.Float64("precisions_cholesky", matrixShape, model.PrecisionsCholesky) ],
        metadata
    )

/// A fit and its BIC for each number of components (lower is better), all else as in options: the usual way to
/// choose k. Given initial parameters fix k, so options must come from an initialisation method instead.
let fitsByComponents (device: Device) (options: GaussianMixtureOptions) (data: Matrix) (ks: int list) =
    if not (isNull options.WeightsInit && isNull options.MeansInit && isNull options.PrecisionsInit) then
        invalidArg (nameof options) "a BIC sweep over k cannot start from given weights, means or precisions"
    ks
    |> List.map (fun k ->
        let o =
            GaussianMixtureOptions(
                Components = k,
                Covariance = options.Covariance,
                Init = options.Init,
                NInit = options.NInit,
                Tol = options.Tol,
                RegCovar = options.RegCovar,
                MaxIter = options.MaxIter,
                Seed = options.Seed
            )
        let model = fit device o None data
        k, model, model.Bic(data.Values, device))

/// BIC for each number of components (lower is better), all else as in options (see fitsByComponents).
let bicByComponents (device: Device) (options: GaussianMixtureOptions) (data: Matrix) (ks: int list) =
    fitsByComponents device options data ks |> List.map (fun (k, _, bic) -> k, bic)

/// Share of points whose component's most common label is their own label (1.0: the components are pure classes).
let labelPurity (components: int[]) (labels: int64[]) (componentCount: int) (classCount: int) =
    let counts = Array2D.zeroCreate<int> componentCount classCount
    Array.iteri (fun i c -> counts[c, int labels[i]] <- counts[c, int labels[i]] + 1) components
    let majority =
        [ for c in 0 .. componentCount - 1 -> Seq.max (seq { for l in 0 .. classCount - 1 -> counts[c, l] }) ]
        |> List.sum
    float majority / float components.Length
