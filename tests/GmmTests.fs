/// Gaussian mixtures on every backend: scikit-learn 1.2.1 fixture values, the Cpu passes against the reference loops,
/// EM properties, initialisation, n_init, warm start, sampling, and the argument checks.
module Hybrid.Tests.GmmTests

open System
open Expecto
open FsCheck.FSharp
open Hybrid.Core.Gpu
open Hybrid.Core.Gpu.Cpu

/// Every backend: the fixture and init tests report CUDA skipped where there is none; the properties and the
/// cross-backend comparison run on the backends this machine has.
let private backends = [ Backends.reference; Backends.cpu; Backends.ilgpuCpu; Backends.cuda ]
let private present = backends |> List.filter (fun b -> b.Device.Value.IsSome)
/// The initialisation tests exercise host code (k-means, random draws) many times over; ILGPU's CPU accelerator, a
/// thousand times slower, joins them only in the cross-backend comparison.
let private fast = backends |> List.filter (fun b -> not b.Slow)

let private types = [ CovarianceType.Full; CovarianceType.Tied; CovarianceType.Diag; CovarianceType.Spherical ]

/// Element-wise |actual - expected| <= max(absTol, relTol * |expected|): an element passes when it is within the
/// absolute OR the relative tolerance. The message names the worst element.
let private within (absTol: float) (relTol: float) (what: string) (expected: float[]) (actual: float[]) =
    Expect.equal actual.Length expected.Length (sprintf "%s: length" what)
    let excess i = abs (actual.[i] - expected.[i]) - max absTol (relTol * abs expected.[i])
    let worst =
        [ 0 .. expected.Length - 1 ] |> List.maxBy (fun i -> if Double.IsNaN(excess i) then infinity else excess i)
    if not (excess worst <= 0.0) then
        failElement what worst actual.[worst] expected.[worst] $"max({absTol} abs, {relTol} rel)"

let private relClose (relTol: float) (what: string) (expected: float) (actual: float) =
    within 0.0 relTol what [| expected |] [| actual |]

type private Expected = { NIter: int; Converged: bool; LowerBound: float; Bic: float; Aic: float }

type private Fixture =
    { Data: float[]
      N: int
      D: int
      K: int
      Tol: float
      RegCovar: float
      MaxIter: int
      Tensors: Map<string, float[]>
      Results: Map<string, Expected> }


let private fixture =
    lazy
        (let json = (readJson (sharedPath "fixtures/kernels/gmm.json")).RootElement
         use file = SafetensorsFile.Open(sharedPath "fixtures/kernels/gmm.safetensors")
         let shape = file.Entry("data").Shape
         let tensors = file.Tensors |> Seq.map (fun e -> e.Name, file.ReadFloat64 e.Name) |> Map.ofSeq
         let results =
             json.GetProperty("results").EnumerateObject()
             |> Seq.map (fun p ->
                 let v = p.Value
                 p.Name,
                 { NIter = v.GetProperty("n_iter").GetInt32()
                   Converged = v.GetProperty("converged").GetBoolean()
                   LowerBound = v.GetProperty("lower_bound").GetDouble()
                   Bic = v.GetProperty("bic").GetDouble()
                   Aic = v.GetProperty("aic").GetDouble() })
             |> Map.ofSeq
         { Data = tensors.["data"]
           N = int shape.[0]
           D = int shape.[1]
           K = json.GetProperty("k").GetInt32()
           Tol = json.GetProperty("tol").GetDouble()
           RegCovar = json.GetProperty("reg_covar").GetDouble()
           MaxIter = json.GetProperty("max_iter").GetInt32()
           Tensors = tensors
           Results = results })

/// scikit-learn's settings and start for the fixture's fit with covariance t, stopped after maxIter iterations.
let private fixtureOptions (t: CovarianceType) (maxIter: int) =
    let f = fixture.Force()
    GaussianMixtureOptions(
        Components = f.K,
        Covariance = t,
        Tol = f.Tol,
        RegCovar = f.RegCovar,
        MaxIter = maxIter,
        WeightsInit = f.Tensors.["weights_init"],
        MeansInit = f.Tensors.["means_init"],
        PrecisionsInit = f.Tensors.[t.SklearnName() + ".precisions_init"]
    )

/// scikit-learn's fit from the fully given start, then every fixture value, scored on the same device.
/// Tolerances: n_iter and converged exact (the stopping test is far from tol at the last iterations); lower bound, BIC
/// and AIC rel 1e-8 (float64 sums over 3000 rows in another order differ by ~1e-14, and EM amplifies that mildly);
/// parameters abs or rel 1e-6 and per-sample scores abs 1e-6 (the precision scikit-learn's own tests use for EM).
/// ILGPU's CPU accelerator would take minutes for the 20-44 iterations of each fit, so there (DESIGN.md, "Tests on slow
/// backends") the fixture's data and start run 3 iterations and every value is compared with the reference backend's,
/// which the full fixture check above holds to scikit-learn: rel 1e-10 (the same float64 terms summed in another order).
let private slowFixtureCheck (device: Device) (t: CovarianceType) =
    let f = fixture.Force()
    let options = fixtureOptions t 3
    let expected = GaussianMixture.Fit(Device.Reference, f.Data, f.N, f.D, options)
    let model = GaussianMixture.Fit(device, f.Data, f.N, f.D, options)
    let first50 = f.Data.[.. 50 * f.D - 1]
    Expect.equal model.NIter expected.NIter "n_iter"
    relClose 1e-10 "lower_bound" expected.LowerBound model.LowerBound
    within 1e-10 1e-10 "weights" expected.Weights model.Weights
    within 1e-10 1e-10 "means" expected.Means model.Means
    within 1e-10 1e-10 "covariances" expected.Covariances model.Covariances
    relClose 1e-10 "bic" (expected.Bic(f.Data, Device.Reference)) (model.Bic(f.Data, device))
    relClose 1e-10 "aic" (expected.Aic(f.Data, Device.Reference)) (model.Aic(f.Data, device))
    within
        1e-10
        1e-10
        "score_samples"
        (expected.ScoreSamples(first50, Device.Reference))
        (model.ScoreSamples(first50, device))
    within
        1e-10
        0.0
        "predict_proba"
        (expected.PredictProba(first50, Device.Reference))
        (model.PredictProba(first50, device))

let private fixtureTests =
    testList
        "sklearn fixture"
        [ for t in types ->
              Backends.perBackend backends (t.SklearnName()) (fun b device ->
                  if b.Slow then
                      slowFixtureCheck device t
                  else
                      let f = fixture.Force()
                      let tensor suffix = f.Tensors.[t.SklearnName() + "." + suffix]
                      let expected = f.Results.[t.SklearnName()]
                      let options = fixtureOptions t f.MaxIter
                      let model = GaussianMixture.Fit(device, f.Data, f.N, f.D, options)
                      Expect.equal model.NIter expected.NIter "n_iter"
                      Expect.equal model.Converged expected.Converged "converged"
                      relClose 1e-8 "lower_bound" expected.LowerBound model.LowerBound
                      within 1e-6 1e-6 "weights" (tensor "weights") model.Weights
                      within 1e-6 1e-6 "means" (tensor "means") model.Means
                      within 1e-6 1e-6 "covariances" (tensor "covariances") model.Covariances
                      relClose 1e-8 "bic" expected.Bic (model.Bic(f.Data, device))
                      relClose 1e-8 "aic" expected.Aic (model.Aic(f.Data, device))
                      let first50 = f.Data.[.. 50 * f.D - 1]
                      within
                          1e-6
                          0.0
                          "score_samples"
                          (tensor "score_samples_first50")
                          (model.ScoreSamples(first50, device))
                      within
                          1e-6
                          0.0
                          "predict_proba"
                          (tensor "predict_proba_first50")
                          (model.PredictProba(first50, device))) ]

type private SmallCase = { Seed: int; N: int; D: int; K: int; Type: CovarianceType }

let private normal (rng: Random) = BoxMuller.Next rng

/// k blobs of standard-normal noise around centres 3 apart, offset from the origin by 10.
let private blobs (c: SmallCase) =
    let rng = Random c.Seed
    let centres = Array.init (c.K * c.D) (fun _ -> 10.0 + 3.0 * normal rng)
    Array.init (c.N * c.D) (fun e -> centres.[(e / c.D % c.K) * c.D + e % c.D] + normal rng)

/// Fits a case's points (blobs c) on a device.
let private fitCase (device: Device) (c: SmallCase) (data: float[]) (options: GaussianMixtureOptions) =
    GaussianMixture.Fit(device, data, c.N, c.D, options)

let private identityPrecisions t k d =
    match t with
    | CovarianceType.Full -> Array.init (k * d * d) (fun e -> if e % (d * d) % (d + 1) = 0 then 1.0 else 0.0)
    | CovarianceType.Tied -> Array.init (d * d) (fun e -> if e % (d + 1) = 0 then 1.0 else 0.0)
    | CovarianceType.Diag -> Array.create (k * d) 1.0
    | _ -> Array.create k 1.0

/// A fully given start: uniform weights, the first k rows as means, identity precisions.
let private givenStart (c: SmallCase) (data: float[]) =
    GaussianMixtureOptions(
        Components = c.K,
        Covariance = c.Type,
        WeightsInit = Array.create c.K (1.0 / float c.K),
        MeansInit = data.[.. c.K * c.D - 1],
        PrecisionsInit = identityPrecisions c.Type c.K c.D,
        Tol = 0.0,
        MaxIter = 30
    )

let private smallCases =
    gen {
        let! seed = Gen.choose (0, Int32.MaxValue)
        let! n = Gen.choose (15, 60)
        let! d = Gen.choose (1, 3)
        let! k = Gen.choose (1, 3)
        let! t = Gen.elements types
        return { Seed = seed; N = n; D = d; K = k; Type = t }
    }

/// A property over random small cases: 15 of them, or 3 on a slow backend.
let private property (b: Backends.Backend) name (check: SmallCase -> unit) =
    testPropertyWithConfig
        { FsCheckConfig.defaultConfig with maxTest = (if b.Slow then 3 else 15) }
        name
        (Prop.forAll (Arb.fromGen smallCases) check)

let private emProperties =
    testList
        "EM properties"
        [ for b in present ->
              testList
                  b.Name
                  [ property b "the lower bound never decreases" (fun c ->
                        let data = blobs c
                        let history = (fitCase b.Device.Value.Value c data (givenStart c data)).LowerBoundHistory
                        for i in 1 .. history.Count - 1 do
                            if history.[i] < history.[i - 1] - 1e-9 * (1.0 + abs history.[i - 1]) then
                                failtestf
                                    "%A: lower bound fell from %.17g to %.17g at iteration %d"
                                    c
                                    history.[i - 1]
                                    history.[i]
                                    (i + 1))
                    property b "predict_proba rows sum to one" (fun c ->
                        let data = blobs c
                        let device = b.Device.Value.Value
                        let proba = (fitCase device c data (givenStart c data)).PredictProba(data, device)
                        for i in 0 .. c.N - 1 do
                            let row = proba.[i * c.K .. (i + 1) * c.K - 1]
                            Expect.isTrue
                                (row |> Array.forall (fun p -> p >= 0.0 && p <= 1.0))
                                "probabilities in [0, 1]"
                            Expect.floatClose
                                { absolute = 1e-12; relative = 0.0 }
                                (Array.sum row)
                                1.0
                                (sprintf "row %d sum" i)) ] ]

/// Random parameters around the data: means near rows, factors diagonally dominant so every precision is definite.
let private randomParameters (rng: Random) (t: CovarianceType) k d (data: float[]) =
    let weights = Array.init k (fun _ -> 0.2 + rng.NextDouble())
    let total = Array.sum weights
    let means = Array.init (k * d) (fun e -> data.[e] + 0.3 * normal rng)
    let factor =
        match t with
        | CovarianceType.Full
        | CovarianceType.Tied ->
            Array.init (GmmShapes.CovarianceLength(t, k, d)) (fun e ->
                let a, b = e % (d * d) / d, e % d
                if a = b then 0.5 + rng.NextDouble()
                elif a < b then 0.3 * normal rng
                else 0.0)
        | _ -> Array.init (GmmShapes.CovarianceLength(t, k, d)) (fun _ -> 0.5 + rng.NextDouble())
    MixtureParameters(t, k, d, Array.map (fun w -> w / total) weights, means, factor)

/// Statistics agree element-wise within abs 1e-9 * scale or rel 1e-10, scale being the largest magnitude of that array:
/// the Cpu passes sum in blocks and through other products than the reference loops, ~1e-15 relative per term.
let private sameStatistics (what: string) (expected: MixtureStatistics) (actual: MixtureStatistics) =
    let compare name (e: float[]) (a: float[]) =
        let scale = e |> Array.fold (fun m v -> max m (abs v)) 1.0
        within (1e-9 * scale) 1e-10 (what + " " + name) e a
    compare "log-likelihood" [| expected.LogLikelihood |] [| actual.LogLikelihood |]
    compare "counts" expected.Counts actual.Counts
    compare "sums" expected.Sums actual.Sums
    compare "scatter" expected.Scatter actual.Scatter

let private cpuAgainstReference =
    let cases =
        gen {
            let! seed = Gen.choose (0, Int32.MaxValue)
            // Up to three blocks of rows, usually a partial last one; d and k from 1 across the vector widths (k 16: the
            // bench case, whose log-densities go straight to the output; 17: two groups of components and a remainder).
            let! n = Gen.choose (1, 3 * CpuMixtureBlock.Rows + 40)
            let! d = Gen.elements [ 1; 2; 3; 4; 5; 7; 8; 13; 17; 32; 41 ]
            let! k = Gen.elements [ 1; 2; 3; 4; 5; 9; 16; 17 ]
            let! t = Gen.elements types
            let! managed = Gen.elements [ false; true ]
            return seed, n, d, k, t, managed
        }
    let check (seed, n, d, k, t, managed) =
        let rng = Random seed
        let data = Array.init (n * d) (fun _ -> 5.0 + 2.0 * normal rng)
        let p = randomParameters rng t k d (Array.init (k * d) (fun e -> data.[e % data.Length]))
        let cpu = CpuMixtureKernels(managedProducts = managed) :> IMixtureKernels
        let reference = Hybrid.Core.Gpu.Reference.ReferenceMixtureKernels.Instance :> IMixtureKernels
        use onCpu = cpu.Load(data, n, d)
        use onReference = reference.Load(data, n, d)
        let what = sprintf "%A n=%d d=%d k=%d managed=%b" t n d k managed
        let expected, actual = MixtureStatistics(t, k, d), MixtureStatistics(t, k, d)
        reference.Pass(onReference, p, expected)
        cpu.Pass(onCpu, p, actual)
        sameStatistics (what + " pass") expected actual
        let responsibilities = Array.init (n * k) (fun _ -> rng.NextDouble())
        reference.Accumulate(onReference, responsibilities, p.Means, expected)
        cpu.Accumulate(onCpu, responsibilities, p.Means, actual)
        sameStatistics (what + " accumulate") expected actual
        let e, a = reference.WeightedLogProb(onReference, p), cpu.WeightedLogProb(onCpu, p)
        within 1e-10 1e-12 (what + " weighted log prob") e a
    testList
        "cpu passes equal the reference loops"
        [ testPropertyWithConfig
              { FsCheckConfig.defaultConfig with maxTest = 40 }
              "random shapes"
              (Prop.forAll (Arb.fromGen cases) check)
          test "edge shapes: one row, a last block of 1 to 3 rows, d and k of 1" {
              for n in [ 1; 3; CpuMixtureBlock.Rows + 1; 2 * CpuMixtureBlock.Rows + 3 ] do
                  for d in [ 1; 5 ] do
                      for k in [ 1; 5 ] do
                          for t in types do
                              for managed in [ false; true ] do
                                  check (n + d + k, n, d, k, t, managed)
          }
          test "full with lower-triangular and dense factors (the zero-block skipping of the fast path)" {
              for d in [ 8; 32; 41 ] do
                  let n, k = 300, 3
                  let rng = Random d
                  let data = Array.init (n * d) (fun _ -> 5.0 + 2.0 * normal rng)
                  let upper = randomParameters rng CovarianceType.Full k d data
                  let u = upper.PrecisionsCholesky
                  let at j a b = u.[j * d * d + a * d + b]
                  let lower = Array.init u.Length (fun e -> at (e / (d * d)) (e % d) (e % (d * d) / d))
                  let dense = Array.init u.Length (fun e -> if u.[e] = 0.0 then 0.1 * normal rng else u.[e])
                  for factor in [ lower; dense ] do
                      let p = MixtureParameters(CovarianceType.Full, k, d, upper.Weights, upper.Means, factor)
                      let cpu = CpuMixtureKernels(managedProducts = false) :> IMixtureKernels
                      let reference = Hybrid.Core.Gpu.Reference.ReferenceMixtureKernels.Instance :> IMixtureKernels
                      use onCpu = cpu.Load(data, n, d)
                      use onReference = reference.Load(data, n, d)
                      let expected, actual = MixtureStatistics(p.Type, k, d), MixtureStatistics(p.Type, k, d)
                      reference.Pass(onReference, p, expected)
                      cpu.Pass(onCpu, p, actual)
                      sameStatistics $"d={d} pass" expected actual
                      let e, a = reference.WeightedLogProb(onReference, p), cpu.WeightedLogProb(onCpu, p)
                      within 1e-10 1e-12 $"d={d} weighted log prob" e a
          } ]

let private inits = [ MixtureInit.Kmeans; MixtureInit.KmeansPlusPlus; MixtureInit.Random; MixtureInit.RandomFromData ]

let private blobCase = { Seed = 7; N = 240; D = 3; K = 4; Type = CovarianceType.Full }

/// A fit is valid when its numbers are finite, its weights a distribution and its covariances positive (definite).
let private expectValid (model: GaussianMixtureModel) =
    let all = Array.concat [ model.Weights; model.Means; model.Covariances; model.PrecisionsCholesky ]
    Expect.isTrue (all |> Array.forall Double.IsFinite) "finite parameters"
    Expect.isTrue (Double.IsFinite model.LowerBound) "finite lower bound"
    Expect.floatClose { absolute = 1e-12; relative = 0.0 } (Array.sum model.Weights) 1.0 "weights sum to one"
    let d = model.Dimensions
    let diagonal =
        match model.CovarianceType with
        | CovarianceType.Full
        | CovarianceType.Tied ->
            model.Covariances
            |> Array.indexed
            |> Array.filter (fun (e, _) -> e % (d * d) % (d + 1) = 0)
            |> Array.map snd
        | _ -> model.Covariances
    Expect.isTrue (diagonal |> Array.forall (fun v -> v > 0.0)) "positive variances"

let private initTests =
    testList
        "initialisation"
        [ for init in inits do
              Backends.perBackend fast (sprintf "%A" init) (fun _ device ->
                  for t in types do
                      let c = { blobCase with Type = t }
                      let data = blobs c
                      let options = GaussianMixtureOptions(Components = c.K, Covariance = t, Init = init, Seed = 11)
                      let first = fitCase device c data options
                      let again = fitCase device c data options
                      expectValid first
                      Expect.sequenceEqual again.Means first.Means (sprintf "%A: the same seed gives the same means" t)
                      Expect.equal
                          again.LowerBound
                          first.LowerBound
                          (sprintf "%A: the same seed gives the same bound" t))
          test "a seed gives the same fit on every backend (rel 1e-8)" {
              // The random draws and k-means run on the host; the backends differ by rounding only.
              let data = blobs blobCase
              for init in inits do
                  let options =
                      GaussianMixtureOptions(Components = 4, Covariance = CovarianceType.Diag, Init = init, Seed = 5)
                  let fits =
                      present |> List.map (fun b -> GaussianMixture.Fit(b.Device.Value.Value, data, 240, 3, options))
                  for model in fits.Tail do
                      within 1e-8 1e-8 (sprintf "%A means" init) fits.Head.Means model.Means
                      relClose 1e-8 (sprintf "%A lower bound" init) fits.Head.LowerBound model.LowerBound
          }
          test "given means are kept and the rest comes from the init" {
              let data = blobs blobCase
              let means = data.[..11]
              let options =
                  GaussianMixtureOptions(
                      Components = 4,
                      Covariance = CovarianceType.Tied,
                      MeansInit = means,
                      MaxIter = 1
                  )
              let seen = Collections.Generic.List<float>()
              let model =
                  GaussianMixture.Fit(Device.Cpu, data, 240, 3, options, onIteration = fun p -> seen.Add p.LowerBound)
              expectValid model
              Expect.equal seen.Count 1 "one iteration"
          } ]

let private runTests =
    let c = { blobCase with Type = CovarianceType.Diag }
    let data = blobs c
    testList
        "EM runs"
        [ test "n_init keeps the initialisation with the highest final lower bound" {
              let finals = Collections.Generic.Dictionary<int, float>()
              let options =
                  GaussianMixtureOptions(
                      Components = 6,
                      Covariance = CovarianceType.Full,
                      Init = MixtureInit.Random,
                      NInit = 4,
                      Seed = 3
                  )
              let model =
                  GaussianMixture.Fit(
                      Device.Cpu,
                      data,
                      c.N,
                      c.D,
                      options,
                      onIteration = fun p -> finals.[p.Init] <- p.LowerBound
                  )
              Expect.equal finals.Count 4 "four initialisations ran"
              let best = finals |> Seq.maxBy (fun kv -> kv.Value)
              Expect.equal model.LowerBound best.Value "the best final bound is kept"
              Expect.isTrue (finals.Values |> Seq.distinct |> Seq.length > 1) "the initialisations differ"
          }
          test "a warm start continues where the model stopped" {
              let options iterations =
                  GaussianMixtureOptions(
                      Components = c.K,
                      Covariance = CovarianceType.Full,
                      Tol = 0.0,
                      MaxIter = iterations,
                      Seed = 2
                  )
              let first = fitCase Device.Cpu c data (options 4)
              let continued = GaussianMixture.Fit(Device.Cpu, data, c.N, c.D, options 4, warmStart = first)
              let straight = fitCase Device.Cpu c data (options 8)
              Expect.sequenceEqual
                  continued.LowerBoundHistory
                  (Seq.skip 4 straight.LowerBoundHistory)
                  "the next four bounds"
              Expect.sequenceEqual continued.Means straight.Means "the same means"
              Expect.equal continued.NIter 4 "its own iterations"
          }
          test "a warm start compares its first bound with the model's" {
              let options tol iterations =
                  GaussianMixtureOptions(
                      Components = c.K,
                      Covariance = CovarianceType.Diag,
                      Seed = 2,
                      Tol = tol,
                      MaxIter = iterations
                  )
              let converged = fitCase Device.Cpu c data (options 1e-10 500)
              Expect.isTrue converged.Converged "the first fit converges"
              let again = GaussianMixture.Fit(Device.Cpu, data, c.N, c.D, options 1e-3 100, warmStart = converged)
              Expect.equal again.NIter 1 "a converged model converges again at once"
              Expect.isTrue again.Converged "converged"
          }
          test "the iteration callback sees the lower-bound history" {
              let seen = Collections.Generic.List<MixtureProgress>()
              let model =
                  GaussianMixture.Fit(
                      Device.Reference,
                      data,
                      c.N,
                      c.D,
                      givenStart c data,
                      onIteration = (fun p -> seen.Add p)
                  )
              Expect.sequenceEqual (seen |> Seq.map (fun p -> p.LowerBound)) model.LowerBoundHistory "bounds"
              Expect.sequenceEqual (seen |> Seq.map (fun p -> p.Iteration)) [ 1 .. model.NIter ] "iterations"
              Expect.equal model.LowerBound (Seq.last model.LowerBoundHistory) "lower bound is the last entry"
              Expect.equal (model.Predict data).Length c.N "one label per row"
          }
          test "precisions are U Uᵀ" {
              for t in types do
                  let model = fitCase Device.Cpu c data (givenStart { c with Type = t } data)
                  let sampleOptions = model.Options
                  Expect.equal sampleOptions.Covariance t "options kept"
                  // Σ Σ⁻¹ = I for the first component (abs 1e-9: condition numbers here are small).
                  let d = c.D
                  let cov, prec = model.Covariances, model.Precisions
                  match t with
                  | CovarianceType.Full
                  | CovarianceType.Tied ->
                      let product =
                          Array.init (d * d) (fun e ->
                              Seq.sum (seq { for m in 0 .. d - 1 -> cov.[e / d * d + m] * prec.[m * d + e % d] }))
                      within
                          1e-9
                          0.0
                          (sprintf "%A identity" t)
                          (Array.init (d * d) (fun e -> if e / d = e % d then 1.0 else 0.0))
                          product
                  | _ ->
                      within 1e-9 0.0 (sprintf "%A identity" t) (Array.create cov.Length 1.0) (Array.map2 (*) cov prec)
          } ]

let private sampleTests =
    test "sample: shape, grouping by component, and means and weights within sampling error" {
        let c = { blobCase with Type = CovarianceType.Full }
        let data = blobs c
        let model = fitCase Device.Cpu c data (GaussianMixtureOptions(Components = c.K, Covariance = c.Type, Seed = 4))
        let count = 20000
        let struct (samples, labels) = model.Sample(count, 9)
        Expect.equal samples.Length (count * c.D) "count x d"
        Expect.equal labels.Length count "one label per sample"
        Expect.isTrue (labels |> Array.pairwise |> Array.forall (fun (a, b) -> a <= b)) "grouped by component in order"
        let struct (again, _) = model.Sample(count, 9)
        Expect.sequenceEqual again samples "the same seed gives the same samples"
        for j in 0 .. c.K - 1 do
            let rows = labels |> Array.indexed |> Array.filter (fun (_, l) -> l = j) |> Array.map fst
            // Counts: binomial, 5 standard deviations; means: 5 standard errors per feature (a fixed seed, so a loose
            // bound that still catches a wrong factor or a swapped mean).
            let expectedCount = model.Weights.[j] * float count
            Expect.isLessThan
                (abs (float rows.Length - expectedCount))
                (5.0 * sqrt expectedCount + 1.0)
                (sprintf "component %d count" j)
            for a in 0 .. c.D - 1 do
                let mean = rows |> Array.averageBy (fun i -> samples.[i * c.D + a])
                let sd = sqrt model.Covariances.[(j * c.D + a) * c.D + a]
                Expect.isLessThan
                    (abs (mean - model.Means.[j * c.D + a]))
                    (5.0 * sd / sqrt (float rows.Length))
                    (sprintf "component %d mean %d" j a)
    }

let private badInputTests =
    let d, k = 2, 2
    let data = [| 0.0; 0.0; 1.0; 0.5; -1.0; 2.0; 0.3; -0.7; 2.0; 1.0 |]
    let n = data.Length / d
    let weights = [| 0.5; 0.5 |]
    let means = data.[.. k * d - 1]
    let given t (w: float[]) (m: float[]) (p: float[]) =
        GaussianMixtureOptions(Components = k, Covariance = t, WeightsInit = w, MeansInit = m, PrecisionsInit = p)
    let fit (x: float[]) options = GaussianMixture.Fit(Device.Cpu, x, x.Length / d, d, options)
    testList
        "bad input"
        [ test "NaN and infinity name the row and column" {
              let withNaN = Array.copy data
              withNaN.[3 * d + 1] <- nan
              rejects "row 3, column 1" (fun () -> fit withNaN (GaussianMixtureOptions(Components = k)))
              let withInf = Array.copy data
              withInf.[1 * d] <- infinity
              rejects "row 1, column 0" (fun () ->
                  fit withInf (GaussianMixtureOptions(Components = k, Covariance = CovarianceType.Diag)))
          }
          test "more components than distinct points" {
              let twoPoints = [| 1.0; 2.0; 1.0; 2.0; 3.0; 4.0; 1.0; 2.0 |]
              rejects "distinct" (fun () ->
                  fit twoPoints (GaussianMixtureOptions(Components = 3, Covariance = CovarianceType.Spherical)))
          }
          test "bad option values" {
              rejects "Components" (fun () -> fit data (GaussianMixtureOptions(Components = 0)))
              rejects "NInit" (fun () -> fit data (GaussianMixtureOptions(NInit = 0)))
              rejects "MaxIter" (fun () -> fit data (GaussianMixtureOptions(MaxIter = 0)))
              rejects "Tol" (fun () -> fit data (GaussianMixtureOptions(Tol = -1.0)))
              rejects "Tol" (fun () -> fit data (GaussianMixtureOptions(Tol = nan)))
              rejects "RegCovar" (fun () -> fit data (GaussianMixtureOptions(RegCovar = -1e-6)))
              rejects "Covariance" (fun () -> fit data (GaussianMixtureOptions(Covariance = enum<CovarianceType> 9)))
              rejects "data" (fun () -> GaussianMixture.Fit(Device.Cpu, data, n + 1, d, GaussianMixtureOptions()))
          }
          test "mismatched init shapes" {
              for t in types do
                  let p = identityPrecisions t k d
                  rejects "WeightsInit" (fun () -> fit data (given t [| 1.0 |] means p))
                  rejects "MeansInit" (fun () -> fit data (given t weights means.[..2] p))
                  rejects "PrecisionsInit" (fun () -> fit data (given t weights means (Array.append p [| 1.0 |])))
              rejects "sum" (fun () -> fit data (given CovarianceType.Spherical [| 0.5; 0.6 |] means [| 1.0; 1.0 |]))
          }
          test "precisions_init not positive definite" {
              let indefinite = [| 1.0; 2.0; 2.0; 1.0 |]
              rejects "positive definite" (fun () ->
                  fit data (given CovarianceType.Full weights means (Array.append indefinite [| 1.0; 0.0; 0.0; 1.0 |])))
              rejects "positive definite" (fun () -> fit data (given CovarianceType.Tied weights means indefinite))
              rejects "positive" (fun () ->
                  fit data (given CovarianceType.Diag weights means [| 1.0; -1.0; 1.0; 1.0 |]))
              rejects "positive" (fun () -> fit data (given CovarianceType.Spherical weights means [| 1.0; 0.0 |]))
          }
          test "a constant column: regularised by reg_covar, rejected without it" {
              let constant = data |> Array.mapi (fun e v -> if e % d = 1 then 4.0 else v)
              for t in types do
                  let model = fit constant (GaussianMixtureOptions(Components = k, Covariance = t, Seed = 1))
                  expectValid model
                  Expect.isTrue
                      (model.ScoreSamples constant |> Array.forall Double.IsFinite)
                      (sprintf "%A: finite scores" t)
                  rejects "constant" (fun () ->
                      fit constant (GaussianMixtureOptions(Components = k, Covariance = t, RegCovar = 0.0)))
          }
          test "a collapsed component asks for a larger reg_covar" {
              // 64 copies of a far point: its component's mean is exactly that point (64 absorbs the 10 eps added to the
              // count), so its scatter is exactly zero and only reg_covar could keep the covariance definite.
              let collapsed = Array.append data (Array.replicate 64 [| 50.0; 50.0 |] |> Array.concat)
              for t in [ CovarianceType.Full; CovarianceType.Diag; CovarianceType.Spherical ] do
                  rejects "reg_covar" (fun () ->
                      fit
                          collapsed
                          (GaussianMixtureOptions(
                              Components = k,
                              Covariance = t,
                              WeightsInit = weights,
                              MeansInit = [| 0.0; 0.0; 50.0; 50.0 |],
                              PrecisionsInit = identityPrecisions t k d,
                              RegCovar = 0.0
                          )))
          }
          test "a warm start of another shape" {
              let model = fit data (GaussianMixtureOptions(Components = k, Covariance = CovarianceType.Diag))
              rejects "warmStart" (fun () ->
                  GaussianMixture.Fit(
                      Device.Cpu,
                      data,
                      n,
                      d,
                      GaussianMixtureOptions(Components = k),
                      warmStart = model
                  ))
          }
          test "scoring data of the wrong width or with NaN" {
              let model = fit data (GaussianMixtureOptions(Components = k))
              rejects "multiple" (fun () -> model.ScoreSamples [| 1.0; 2.0; 3.0 |])
              rejects "row 0" (fun () -> model.Predict [| nan; 1.0 |])
              rejects "count" (fun () -> model.Sample(0, 1))
          } ]

[<Tests>]
let tests =
    testList "gmm" [ fixtureTests; cpuAgainstReference; emProperties; initTests; runTests; sampleTests; badInputTests ]
