/// Every default of the command line, written once: the commands read these values and the usage text prints them.
/// Defaults that belong to an analysis or a benchmark are that module's own, read from there.
module Hybrid.Cli.Defaults

open System.Globalization
open Hybrid.Analysis
open Hybrid.Bench

let private mixture = Hybrid.Core.Gpu.GaussianMixtureOptions()
let private training = Training.defaults ""

/// A default as the usage text writes it: rates below 0.01 in scientific form (1e-3), other numbers as they are.
let text (x: float) =
    if x <> 0.0 && abs x < 0.01 then x.ToString("0e-0", CultureInfo.InvariantCulture)
    else x.ToString(CultureInfo.InvariantCulture)

/// Words for a list of defaults: "256 512 1024".
let words (xs: 'a list) = xs |> List.map string |> String.concat " "

let selfCheckSeed = 42
let selfCheckCount = 3
/// Cases per operation in the demo's self-check, fewer than selfcheck's to keep the tour short.
let demoSelfCheckCount = 2
let inspectDepth = 2
let gmmInit = "kmeans"
let gmmSeed = 0
let gmmTol = mixture.Tol
let gmmRegCovar = mixture.RegCovar
let gmmMaxIter = mixture.MaxIter
let gmmNInit = mixture.NInit
let ckaSigmaFraction = CkaScore.DefaultSigmaFraction
let evalBatch = Evaluate.DefaultBatch
let trainEpochs = training.Epochs
let trainBatch = training.BatchSize
let trainLr = training.LearningRate
let trainMomentum = training.Momentum
let trainWeightDecay = training.WeightDecay
let trainCropPadding = training.CropPadding
let trainSeed = int training.Seed
let stepSize = 30
let stepGamma = 0.1
let dedupThreshold = DedupService.DefaultThreshold
let db = Catalog.defaultPath
let fuzzCount = 100_000
let fuzzSeed = 1
let gemm = GemmBench.defaults
let conv = ConvBench.defaults
let gmmBench = GmmBench.defaults
let ckaBench = CkaBench.defaults
let resnet = ResnetBench.defaults
let extractBench = ExtractBench.defaults
