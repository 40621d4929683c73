/// The Gaussian-mixture reference (the EM specification) against scikit-learn 1.2.1 results, plus EM properties on
/// small random data and the argument checks.
module Hybrid.Tests.GmmReferenceTests

open System
open System.IO
open System.Text.Json
open Expecto
open FsCheck
open FsCheck.FSharp
open Hybrid.Core.Gpu
open Hybrid.Core.Gpu.Reference
open Hybrid.Core.Nn.Io
open Hybrid.Tests.Shared

/// Element-wise |actual - expected| <= max(absTol, relTol * |expected|): an element passes when it is within the
/// absolute OR the relative tolerance. The message names the worst element.
let private within (absTol: float) (relTol: float) (what: string) (expected: float[]) (actual: float[]) =
    Expect.equal actual.Length expected.Length (sprintf "%s: length" what)
    let excess i = abs (actual.[i] - expected.[i]) - max absTol (relTol * abs expected.[i])
    let worst = [ 0 .. expected.Length - 1 ] |> List.maxBy (fun i -> if Double.IsNaN(excess i) then infinity else excess i)
    if not (excess worst <= 0.0) then
        failtestf "%s: element %d is %.17g, expected %.17g (tolerance max(%g abs, %g rel))"
            what worst actual.[worst] expected.[worst] absTol relTol

let private relClose (relTol: float) (what: string) (expected: float) (actual: float) =
    within 0.0 relTol what [| expected |] [| actual |]

type private Expected =
    { NIter: int; Converged: bool; LowerBound: float; Bic: float; Aic: float }

type private Fixture =
    { Data: float[]; N: int; D: int; K: int; Tol: float; RegCovar: float; MaxIter: int
      WeightsInit: float[]; MeansInit: float[]
      Tensors: Map<string, float[]>; Results: Map<string, Expected> }

let private typeName (t: CovarianceType) = t.ToString().ToLowerInvariant()

let private fixture =
    lazy
        (let json = JsonDocument.Parse(File.ReadAllText(sharedPath "fixtures/kernels/gmm.json")).RootElement
         use file = SafetensorsFile.Open(sharedPath "fixtures/kernels/gmm.safetensors")
         let shape = file.Entry("data").Shape
         let tensors = file.Tensors |> Seq.map (fun e -> e.Name, file.ReadFloat64 e.Name) |> Map.ofSeq
         let results =
             json.GetProperty("results").EnumerateObject()
             |> Seq.map (fun p ->
                 let v = p.Value
                 p.Name,
                 { NIter = v.GetProperty("n_iter").GetInt32(); Converged = v.GetProperty("converged").GetBoolean()
                   LowerBound = v.GetProperty("lower_bound").GetDouble()
                   Bic = v.GetProperty("bic").GetDouble(); Aic = v.GetProperty("aic").GetDouble() })
             |> Map.ofSeq
         { Data = tensors.["data"]; N = int shape.[0]; D = int shape.[1]; K = json.GetProperty("k").GetInt32()
           Tol = json.GetProperty("tol").GetDouble(); RegCovar = json.GetProperty("reg_covar").GetDouble()
           MaxIter = json.GetProperty("max_iter").GetInt32()
           WeightsInit = tensors.["weights_init"]; MeansInit = tensors.["means_init"]
           Tensors = tensors; Results = results })

/// One fit per covariance type, shared by that type's tests.
let private fits =
    [ CovarianceType.Full; CovarianceType.Tied; CovarianceType.Diag; CovarianceType.Spherical ]
    |> List.map (fun t ->
        t,
        lazy
            (let f = fixture.Force()
             GaussianMixtureReference.Fit(f.Data, f.N, f.D, f.K, t, f.WeightsInit, f.MeansInit,
                 f.Tensors.[typeName t + ".precisions_init"], f.Tol, f.RegCovar, f.MaxIter)))

let private fixtureTests (t: CovarianceType, model: Lazy<GmmModel>) =
    let name = typeName t
    let tensor suffix = fixture.Force().Tensors.[name + "." + suffix]
    let expected () = fixture.Force().Results.[name]
    let first50 () = fixture.Force().Data.[.. 50 * fixture.Force().D - 1]
    testList name [
        test "n_iter and converged exactly" {
            Expect.equal model.Value.NIter (expected().NIter) "n_iter"
            Expect.equal model.Value.Converged (expected().Converged) "converged"
        }
        test "lower bound (rel 1e-8)" {
            relClose 1e-8 "lower_bound" (expected().LowerBound) model.Value.LowerBound
        }
        test "weights, means, covariances (abs or rel 1e-6)" {
            within 1e-6 1e-6 "weights" (tensor "weights") model.Value.Weights
            within 1e-6 1e-6 "means" (tensor "means") model.Value.Means
            within 1e-6 1e-6 "covariances" (tensor "covariances") model.Value.Covariances
        }
        test "bic and aic (rel 1e-8)" {
            let data = fixture.Force().Data
            relClose 1e-8 "bic" (expected().Bic) (model.Value.Bic data)
            relClose 1e-8 "aic" (expected().Aic) (model.Value.Aic data)
        }
        test "score_samples and predict_proba of the first 50 rows (abs 1e-6)" {
            within 1e-6 0.0 "score_samples" (tensor "score_samples_first50") (model.Value.ScoreSamples(first50 ()))
            within 1e-6 0.0 "predict_proba" (tensor "predict_proba_first50") (model.Value.PredictProba(first50 ()))
        }
    ]

type private SmallCase = { Seed: int; N: int; D: int; K: int; Type: CovarianceType }

let private identityPrecisions t k d =
    match t with
    | CovarianceType.Full -> Array.init (k * d * d) (fun e -> if e % (d * d) % (d + 1) = 0 then 1.0 else 0.0)
    | CovarianceType.Tied -> Array.init (d * d) (fun e -> if e % (d + 1) = 0 then 1.0 else 0.0)
    | CovarianceType.Diag -> Array.create (k * d) 1.0
    | _ -> Array.create k 1.0

/// k blobs of standard-normal noise around centres 3 apart; the init takes the first k rows as means.
let private smallData (c: SmallCase) =
    let rng = Random c.Seed
    let normal () = sqrt (-2.0 * log (1.0 - rng.NextDouble())) * cos (2.0 * Math.PI * rng.NextDouble())
    let centres = Array.init (c.K * c.D) (fun _ -> 3.0 * normal ())
    Array.init (c.N * c.D) (fun e -> centres.[(e / c.D % c.K) * c.D + e % c.D] + normal ())

let private fitSmall (c: SmallCase) (data: float[]) =
    GaussianMixtureReference.Fit(data, c.N, c.D, c.K, c.Type, Array.create c.K (1.0 / float c.K),
        data.[.. c.K * c.D - 1], identityPrecisions c.Type c.K c.D, tol = 0.0, maxIter = 30)

let private smallCases =
    gen {
        let! seed = Gen.choose (0, Int32.MaxValue)
        let! n = Gen.choose (15, 60)
        let! d = Gen.choose (1, 3)
        let! k = Gen.choose (1, 3)
        let! t = Gen.elements [ CovarianceType.Full; CovarianceType.Tied; CovarianceType.Diag; CovarianceType.Spherical ]
        return { Seed = seed; N = n; D = d; K = k; Type = t }
    }

let private property name (check: SmallCase -> unit) =
    testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 20 } name
        (Prop.forAll (Arb.fromGen smallCases) check)

let private badInputTests =
    let d, k = 2, 2
    let data = [| 0.0; 0.0; 1.0; 0.5; -1.0; 2.0; 0.3; -0.7; 2.0; 1.0 |]
    let n = data.Length / d
    let weights = [| 0.5; 0.5 |]
    let means = data.[.. k * d - 1]
    let fit (x: float[]) t (w: float[]) (m: float[]) (p: float[]) =
        GaussianMixtureReference.Fit(x, x.Length / d, d, k, t, w, m, p)
    testList "bad input" [
        test "NaN and infinity name the row" {
            let withNaN = Array.copy data
            withNaN.[3 * d + 1] <- nan
            rejects "row 3" (fun () -> fit withNaN CovarianceType.Full weights means (identityPrecisions CovarianceType.Full k d))
            let withInf = Array.copy data
            withInf.[1 * d] <- infinity
            rejects "row 1" (fun () -> fit withInf CovarianceType.Diag weights means (identityPrecisions CovarianceType.Diag k d))
        }
        test "more components than distinct points" {
            let twoPoints = [| 1.0; 2.0; 1.0; 2.0; 3.0; 4.0; 1.0; 2.0 |]
            rejects "distinct" (fun () ->
                GaussianMixtureReference.Fit(twoPoints, 4, 2, 3, CovarianceType.Spherical, Array.create 3 (1.0 / 3.0),
                    twoPoints.[.. 5], [| 1.0; 1.0; 1.0 |]))
        }
        test "mismatched init shapes" {
            for t in [ CovarianceType.Full; CovarianceType.Tied; CovarianceType.Diag; CovarianceType.Spherical ] do
                let p = identityPrecisions t k d
                rejects "weightsInit" (fun () -> fit data t [| 1.0 |] means p)
                rejects "meansInit" (fun () -> fit data t weights means.[.. 2] p)
                rejects "precisionsInit" (fun () -> fit data t weights means (Array.append p [| 1.0 |]))
            rejects "data" (fun () -> GaussianMixtureReference.Fit(data, n + 1, d, k, CovarianceType.Diag, weights, means, [| 1.0; 1.0; 1.0; 1.0 |]))
            rejects "sum" (fun () -> fit data CovarianceType.Spherical [| 0.5; 0.6 |] means [| 1.0; 1.0 |])
        }
        test "precisions_init not positive definite" {
            let indefinite = [| 1.0; 2.0; 2.0; 1.0 |]
            rejects "positive definite" (fun () -> fit data CovarianceType.Full weights means (Array.append indefinite [| 1.0; 0.0; 0.0; 1.0 |]))
            rejects "positive definite" (fun () -> fit data CovarianceType.Tied weights means indefinite)
            rejects "positive" (fun () -> fit data CovarianceType.Diag weights means [| 1.0; -1.0; 1.0; 1.0 |])
            rejects "positive" (fun () -> fit data CovarianceType.Spherical weights means [| 1.0; 0.0 |])
        }
        test "a collapsed component asks for a larger reg_covar" {
            // 64 copies of a far point: its component's mean is exactly that point (64 absorbs the 10 eps added to the
            // count), so its scatter is exactly zero and only reg_covar could keep the covariance definite.
            let collapsed = Array.append data (Array.replicate 64 [| 50.0; 50.0 |] |> Array.concat)
            for t in [ CovarianceType.Full; CovarianceType.Diag; CovarianceType.Spherical ] do
                rejects "reg_covar" (fun () ->
                    GaussianMixtureReference.Fit(collapsed, collapsed.Length / d, d, k, t, weights, [| 0.0; 0.0; 50.0; 50.0 |],
                        identityPrecisions t k d, regCovar = 0.0))
        }
    ]

[<Tests>]
let tests =
    testList "gmm reference" [
        testList "sklearn fixture" (fits |> List.map fixtureTests)
        property "the lower bound never decreases" (fun c ->
            let history = (fitSmall c (smallData c)).LowerBoundHistory
            for i in 1 .. history.Count - 1 do
                if history.[i] < history.[i - 1] - 1e-9 * (1.0 + abs history.[i - 1]) then
                    failtestf "%A: lower bound fell from %.17g to %.17g at iteration %d" c history.[i - 1] history.[i] (i + 1))
        property "predict_proba rows sum to one" (fun c ->
            let data = smallData c
            let proba = (fitSmall c data).PredictProba data
            for i in 0 .. c.N - 1 do
                let row = proba.[i * c.K .. (i + 1) * c.K - 1]
                Expect.isTrue (row |> Array.forall (fun p -> p >= 0.0 && p <= 1.0)) "probabilities in [0, 1]"
                Expect.floatClose { absolute = 1e-12; relative = 0.0 } (Array.sum row) 1.0 (sprintf "row %d sum" i))
        test "the iteration callback sees the lower-bound history" {
            let c = { Seed = 3; N = 30; D = 2; K = 2; Type = CovarianceType.Full }
            let data = smallData c
            let seen = Collections.Generic.List<int * float>()
            let model =
                GaussianMixtureReference.Fit(data, c.N, c.D, c.K, c.Type, [| 0.5; 0.5 |], data.[.. 3],
                    identityPrecisions c.Type c.K c.D, onIteration = fun i lb -> seen.Add((i, lb)))
            Expect.sequenceEqual seen (model.LowerBoundHistory |> Seq.mapi (fun i lb -> i + 1, lb)) "callback"
            Expect.equal model.LowerBound (Seq.last model.LowerBoundHistory) "lower bound is the last entry"
            Expect.equal (model.Predict data).Length c.N "one label per row"
        }
        badInputTests
    ]
