/// Every default of the command line, written once: the commands read these values and the usage text prints them.
/// Defaults that belong to an analysis or a benchmark are that module's own, read from there. The demo's self-check
/// runs fewer cases than selfcheck (DemoCount) to keep the tour short.
module Hybrid.Cli.Defaults

open System.Globalization
open Hybrid.Analysis

/// A default as the usage text writes it: rates below 0.01 in scientific form (1e-3), other numbers as they are.
let text (x: float) =
    if x <> 0.0 && abs x < 0.01 then
        x.ToString("0e-0", CultureInfo.InvariantCulture)
    else
        x.ToString(CultureInfo.InvariantCulture)

/// Words for a list of defaults: "256 512 1024".
let words (xs: 'a list) = xs |> List.map string |> String.concat " "

let selfCheck = {| Seed = 42; Count = 3; DemoCount = 2 |}
let inspect = {| Depth = 2 |}
/// Gaussian-mixture fitting's own defaults (Core.Gpu's options).
let gmmFit = Hybrid.Core.Gpu.GaussianMixtureOptions()
let ckaScore = {| SigmaFraction = CkaScore.DefaultSigmaFraction |}
/// The CKA index's and search's own defaults.
let cka =
    {| ProbeCount = ProbeSet.DefaultCount
       MaxProbeCount = ProbeSet.MaxCount
       Version = LayerIndex.DefaultVersion
       K = LayerSearch.DefaultK
       ProbeFirst = 0 |}
let eval = {| Batch = Evaluate.DefaultBatch |}
/// The model-analysis views' own defaults.
let analyzeModel =
    {| Views = "confusion,maps,maximise"
       K = ConfusionView.DefaultK
       Image = 0
       Channels = ActivationMaps.DefaultChannels
       Maximise = Maximise.defaults |}
/// Training's own recipe; the step schedule's numbers are the command line's.
let train = Training.defaults ""
let stepSchedule = {| StepSize = 30; Gamma = 0.1 |}
let defects = DefectsService.defaultData
let dedup = {| Threshold = DedupService.DefaultThreshold |}
let anomaly = {| MinClassCount = 20; Folds = 5; Scaling = "log"; MinDocuments = 1; Top = 30 |}
/// The catalog when none is named.
let db = Catalog.defaultPath
/// `hybrid serve`: loopback only, the published system's one-hour cache, at most 64 M characters of cached JSON in
/// memory; in Redis, keys under one prefix; uploads up to 512 MiB (a ResNet-152 checkpoint is 230 MB).
let serve =
    {| Host = "127.0.0.1"
       Port = 8080
       CacheSeconds = 3600
       CacheChars = 64L * 1024L * 1024L
       RedisPrefix = "hybrid:serve:"
       MaxUploadMb = 512 |}
let fuzz = {| Count = 100_000; Seed = 1 |}
