/// RBF or debiased CKA recomputed for a search's top hits on request: the index ranks by linear CKA (an inner product
/// of encodings), and these kernels are computed afterwards for the few layers found, from the stored encodings alone
/// (Core.Gpu's Cka.FromEncodings), so no model is run again.
module Hybrid.Analysis.LayerRescore

open Hybrid.Core.Gpu

/// A kernel the hits may be recomputed with.
type Kernel =
    /// Linear CKA again: the score the hits were found by.
    | Linear
    /// The RBF kernel with bandwidth sigma = this fraction of the median distance between distinct probe inputs.
    | Rbf of sigmaFraction: float
    /// Linear CKA with the unbiased HSIC estimator (Song et al. 2012).
    | Debiased

/// A kernel by its name in a request: linear, rbf (with sigmaFraction) or debiased.
let kernel (name: string) (sigmaFraction: float) =
    match name with
    | "linear" -> Linear
    | "debiased" -> Debiased
    | "rbf" when sigmaFraction > 0.0 && not (System.Double.IsInfinity sigmaFraction) -> Rbf sigmaFraction
    | "rbf" -> Input.fail "kernel rbf: sigma fraction %g must be positive and finite" sigmaFraction
    | _ -> Input.fail "kernel %s: linear, rbf or debiased" name

/// One hit with its CKA under the kernel beside the linear score it was found by.
type Rescored = { Model: string; Version: string; Layer: string; Linear: float; Cka: float }

type Rescoring =
    {
        /// "linear", "rbf" or "debiased".
        Kernel: string
        SigmaFraction: float option
        Hits: Rescored list
    }

/// The CKA under kernel of the query encoding with each hit's; encodingOf finds a hit's stored encoding.
let rescore
    (device: Device)
    (kernel: Kernel)
    (query: float32[])
    (hits: LayerSearch.Hit list)
    (encodingOf: LayerSearch.Hit -> float32[])
    =
    let options =
        match kernel with
        | Linear -> CkaOptions()
        | Rbf s -> CkaOptions(Kernel = CkaKernel.Rbf, SigmaFraction = s)
        | Debiased -> CkaOptions(Debiased = true)
    { Kernel =
        (match kernel with
         | Linear -> "linear"
         | Rbf _ -> "rbf"
         | Debiased -> "debiased")
      SigmaFraction =
        (match kernel with
         | Rbf s -> Some s
         | _ -> None)
      Hits =
        [ for h in hits ->
              let cka =
                  Input.guard $"{h.Model}/{h.Version} {h.Layer}" (fun () ->
                      Cka.FromEncodings(device, System.ReadOnlySpan query, System.ReadOnlySpan(encodingOf h), options))
              { Model = h.Model; Version = h.Version; Layer = h.Layer; Linear = h.Score; Cka = cka } ] }
