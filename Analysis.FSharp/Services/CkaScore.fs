/// `cka score`: centred kernel alignment between two layers' activations, as a result record.
module Hybrid.Analysis.CkaScore

open Hybrid.Core.Gpu

type CkaResult =
    {
        Cka: float
        /// "linear" or "rbf".
        Kernel: string
        SigmaFrac: float
        Debiased: bool
        N: int
        XFeatures: int
        YFeatures: int
        Device: string
    }

/// The RBF bandwidth, as a fraction of the median distance between distinct examples, when none is given.
let DefaultSigmaFraction = 0.8

/// Scores the activations at xSpec against those at ySpec (FILE.safetensors:TENSOR or FILE.csv).
let run (device: Device) (kernel: CkaKernel) (sigmaFraction: float) (debiased: bool) (xSpec: string) (ySpec: string) =
    if not (sigmaFraction > 0.0) || System.Double.IsInfinity sigmaFraction then
        Input.fail "cka score: --sigma-frac %g must be positive and finite" sigmaFraction
    let x = TensorInput.load xSpec
    let y = TensorInput.load ySpec
    { Cka = Cka.score device (Cka.options kernel sigmaFraction debiased) x y
      Kernel = (if kernel = CkaKernel.Linear then "linear" else "rbf")
      SigmaFrac = sigmaFraction
      Debiased = debiased
      N = x.Rows
      XFeatures = x.Columns
      YFeatures = y.Columns
      Device = device.Name }
