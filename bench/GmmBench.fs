/// `hybrid bench gmm`: Gaussian-mixture EM against scikit-learn's GaussianMixture, both started from the same given
/// weights, means and precisions on the same data, for a fixed number of iterations (tol = 0), per covariance type.
/// Each case also compares the two lower bounds, which must agree to 1e-6 relative.
module Hybrid.Bench.GmmBench

open System
open System.IO
open Hybrid.Core.Gpu
open Hybrid.Bench.Report

type Options =
    { Samples: int
      Dimensions: int
      Components: int
      Iterations: int
      Types: CovarianceType list
      Timing: Timing.Policy }

/// One fit per type and side: a 100-iteration fit of scikit-learn on 100,000 x 32 points takes tens of seconds,
/// far longer than the noise the repeats of the other benchmarks guard against.
let private once = { Timing.Warmup = 0; Timing.MinRepeats = 1; Timing.MaxRepeats = 1; Timing.Seconds = 0.0 }

/// The issue's case: 100,000 x 32 points, 16 components, 100 EM iterations, every covariance type.
let defaults =
    { Samples = 100_000
      Dimensions = 32
      Components = 16
      Iterations = 100
      Types = [ CovarianceType.Full; CovarianceType.Tied; CovarianceType.Diag; CovarianceType.Spherical ]
      Timing = once }

/// A case that finishes in seconds (the demo's).
let quick = { defaults with Samples = 20_000; Dimensions = 8; Components = 4; Iterations = 20 }

let peer = { Peers.Script = "gmm_sklearn.py"; Peers.Packages = [ "python3-sklearn" ] }

/// Points from a mixture of `Components` Gaussian clusters with random centres and per-cluster spreads, so that EM
/// has real structure to find; row-major n x d.
let data (options: Options) =
    let random = Random Data.seed
    let d, k = options.Dimensions, options.Components
    let centres = Data.normal64 random (k * d) |> Array.map (fun v -> 4.0 * v)
    let spreads = Array.init k (fun _ -> 0.5 + random.NextDouble())
    let noise = Data.normal64 random (options.Samples * d)
    Array.init (options.Samples * d) (fun e ->
        let cluster = (e / d) % k
        centres[cluster * d + e % d] + spreads[cluster] * noise[e])

/// The shared start: uniform weights, k distinct data rows as means, and precisions of the pooled variance
/// (the identity scaled by 1 / variance, in each type's shape).
let start (options: Options) (x: float[]) =
    let n, d, k = options.Samples, options.Dimensions, options.Components
    let weights = Array.create k (1.0 / float k)
    let means = Array.init (k * d) (fun e -> x[(e / d) * (n / k) * d + e % d])
    let mean = Array.average x
    let precision = 1.0 / (Array.averageBy (fun v -> (v - mean) * (v - mean)) x)
    let identity count = Array.init (count * d * d) (fun e -> if (e % (d * d)) % (d + 1) = 0 then precision else 0.0)
    let precisions t =
        match t with
        | CovarianceType.Full -> identity k
        | CovarianceType.Tied -> identity 1
        | CovarianceType.Diag -> Array.create (k * d) precision
        | _ -> Array.create k precision
    weights, means, precisions

let private fit
    (device: Device)
    (options: Options)
    (x: float[])
    (weights, means, precisions: CovarianceType -> float[])
    t
    iterations
    =
    GaussianMixture.Fit(
        device,
        x,
        options.Samples,
        options.Dimensions,
        GaussianMixtureOptions(
            Components = options.Components,
            Covariance = t,
            WeightsInit = weights,
            MeansInit = means,
            PrecisionsInit = precisions t,
            Tol = 0.0,
            MaxIter = iterations
        )
    )

/// Times every covariance type on device, then scikit-learn on the same files, and compares the lower bounds.
let run (device: Device) (options: Options) =
    let x = data options
    let init = start options x
    let ours =
        options.Types
        |> List.map (fun t ->
            progress "gmm" $"fitting {t.SklearnName()} on {device.Name}"
            // Two untimed iterations compile and warm the kernels (JIT, ILGPU) without doubling a long run.
            fit device options x init t 2 |> ignore
            let mutable model = Unchecked.defaultof<GaussianMixtureModel>
            let seconds =
                Timing.measureOn device options.Timing (fun () ->
                    model <- fit device options x init t options.Iterations)
            t, seconds, model.LowerBound)
    let dir = Data.scratch "gmm"
    try
        let weights, means, precisions = init
        Data.writeRaw (Path.Combine(dir, "data.f64")) x
        Data.writeRaw (Path.Combine(dir, "weights.f64")) weights
        Data.writeRaw (Path.Combine(dir, "means.f64")) means
        for t in options.Types do
            Data.writeRaw (Path.Combine(dir, $"precisions_{t.SklearnName()}.f64")) (precisions t)
        progress "gmm" "fitting with the scikit-learn peer"
        let args =
            [ "--dir"
              dir
              "--n"
              string options.Samples
              "--d"
              string options.Dimensions
              "--k"
              string options.Components
              "--iterations"
              string options.Iterations
              "--types" ]
            @ (options.Types |> List.map (fun t -> t.SklearnName()))
            @ Timing.toArgs options.Timing
        let outcome = Peers.run peer args
        let caseName (t: CovarianceType) =
            $"{t.SklearnName()} {options.Samples}x{options.Dimensions} k={options.Components} {options.Iterations} it"
        { Benchmark = "gmm"
          Device = device.Name
          Cores = cores ()
          Cases =
            ours
            |> List.map (fun (t, seconds, bound) ->
                let case = Peers.toCase "scikit-learn" outcome (t.SklearnName()) seconds
                let check =
                    match Peers.value outcome (t.SklearnName()) with
                    | Some theirs ->
                        let rel = abs (bound - theirs) / abs theirs
                        let verdict = if rel <= 1e-6 then "agree" else "DISAGREE"
                        $"lower bound {bound:R} vs {theirs:R}, relative difference {rel:E1} ({verdict} within 1e-6)"
                    | None -> $"lower bound {bound:R}"
                { case with
                    Case = caseName t
                    Note =
                        Some(
                            match case.Note with
                            | Some n -> $"{n}; {check}"
                            | None -> check
                        ) }) }
    finally
        Directory.Delete(dir, true)
