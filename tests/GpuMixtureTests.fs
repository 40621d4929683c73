/// The ILGPU mixture passes (E-step and M-step reductions) against the reference loops, on ILGPU's CPU accelerator and on
/// CUDA when a GPU exists: every covariance type, edge shapes (d = 1, k = 1, n not a multiple of any group size, d past one
/// 32-wide tile, n split into several slices), a sample far from every component, and run-to-run determinism.
module Hybrid.Tests.GpuMixtureTests

open System
open Expecto
open Hybrid.Core.Gpu
open Hybrid.Core.Gpu.Ilgpu
open Hybrid.Core.Gpu.Reference
open Hybrid.Core.Gpu.Maths

/// Tolerance: 1e-12 relative plus 1e-12 times the sum of the absolute values of the terms. Both sides are float64 sums of
/// the same terms in different orders (slices, lanes, tiles), which differ by at most about n ε Σ|term| (ε = 1.1e-16;
/// n ≤ 1100 here, so below 1.3e-13 Σ|term|), and CUDA may fuse multiply-adds; Σ|term|, not the result, bounds the error
/// because sums of centred values cancel towards 0.
let private tol = 1e-12

/// |actual - expected| <= absTol[e] + 1e-12 |expected| element-wise, and actual finite.
let private close (absTol: float[]) (what: string) (expected: float[]) (actual: float[]) =
    Expect.equal actual.Length expected.Length (sprintf "%s: length" what)
    for i in 0 .. expected.Length - 1 do
        let e, a = expected.[i], actual.[i]
        if not (Double.IsFinite a) || abs (a - e) > absTol.[i] + tol * abs e then
            failtestf "%s: element %d is %.17g, expected %.17g (tolerance %g abs + %g rel)" what i a e absTol.[i] tol

type private Case = { N: int; D: int; K: int; Seed: int }

/// d = 1 with k = 1; n = 37 and 70 inside one 128-sample E-step block, 130 just past it; d = 35 spans two scatter tiles and three 16-feature E-step rounds;
/// n = 1100 makes three slices of the M-step reduction.
let private cases =
    [ { N = 37; D = 1; K = 1; Seed = 1 }
      { N = 130; D = 3; K = 4; Seed = 2 }
      { N = 70; D = 35; K = 2; Seed = 3 }
      { N = 1100; D = 2; K = 2; Seed = 4 } ]

type private Problem = { Data: float[]; Parameters: MixtureParameters; Responsibilities: float[]; Shifts: float[] }

let private normal (rng: Random) = float (randomNormal rng 1).[0]

/// Random data (the last sample 500 away from every mean in each feature, so its log-densities are around -1e5 d and a
/// log-sum-exp without the max shift would give 0/0), random weights, means and factors (triangular with a positive
/// diagonal for full and tied, as the Cholesky factors are), and random responsibilities with rows summing to one.
let private problem (t: CovarianceType) (c: Case) =
    let rng = Random c.Seed
    let data = Array.init (c.N * c.D) (fun e -> if e >= (c.N - 1) * c.D then 500.0 else 1.5 * normal rng)
    let raw = Array.init c.K (fun _ -> 0.2 + rng.NextDouble())
    let weights = raw |> Array.map (fun w -> w / Array.sum raw)
    let means = Array.init (c.K * c.D) (fun _ -> normal rng)
    let triangular () =
        Array.init (c.D * c.D) (fun e ->
            let r, col = e / c.D, e % c.D
            if r = col then 0.5 + 1.5 * rng.NextDouble()
            elif r < col then 0.3 * normal rng
            else 0.0)
    let factors =
        match t with
        | CovarianceType.Full -> Array.init c.K (fun _ -> triangular ()) |> Array.concat
        | CovarianceType.Tied -> triangular ()
        | CovarianceType.Diag -> Array.init (c.K * c.D) (fun _ -> 0.5 + 1.5 * rng.NextDouble())
        | _ -> Array.init c.K (fun _ -> 0.5 + 1.5 * rng.NextDouble())
    let responsibilities =
        Array.init c.N (fun _ ->
            let row = Array.init c.K (fun _ -> rng.NextDouble() + 1e-3)
            row |> Array.map (fun r -> r / Array.sum row))
        |> Array.concat
    { Data = data
      Parameters = MixtureParameters(t, c.K, c.D, weights, means, factors)
      Responsibilities = responsibilities
      Shifts = Array.init (c.K * c.D) (fun _ -> normal rng) }

/// The statistics of the absolute terms, Σᵢ rᵢⱼ |xᵢ - sⱼ|ᵖ per entry: the scales of the tolerance. Each component is
/// one reference accumulation of the data |x - sⱼ| about 0 with the responsibility column j.
let private termScales (t: CovarianceType) (c: Case) (data: float[]) (responsibilities: float[]) (shifts: float[]) =
    let scales = MixtureStatistics(t, c.K, c.D)
    for j in 0 .. c.K - 1 do
        let centred = Array.init (c.N * c.D) (fun e -> abs (data.[e] - shifts.[j * c.D + e % c.D]))
        let column = Array.init c.N (fun i -> responsibilities.[i * c.K + j])
        let one = MixtureStatistics(t, 1, c.D)
        use host = ReferenceMixtureKernels.Instance.Load(centred, c.N, c.D)
        ReferenceMixtureKernels.Instance.Accumulate(host, column, Array.zeroCreate c.D, one)
        scales.Counts.[j] <- one.Counts.[0]
        Array.blit one.Sums 0 scales.Sums (j * c.D) c.D
        if t = CovarianceType.Tied then
            // Tied's scatter is the sum over the components, so its scale is too.
            for e in 0 .. one.Scatter.Length - 1 do
                scales.Scatter.[e] <- scales.Scatter.[e] + one.Scatter.[e]
        elif t = CovarianceType.Spherical then
            scales.Scatter.[j] <- one.Scatter.[0]
        else
            Array.blit one.Scatter 0 scales.Scatter (j * one.Scatter.Length) one.Scatter.Length
    scales

let private compareStatistics
    (what: string)
    (scales: MixtureStatistics)
    (logLikScale: float)
    (expected: MixtureStatistics)
    (actual: MixtureStatistics)
    =
    let absolute (v: float[]) = v |> Array.map (fun s -> tol * s)
    close (absolute scales.Counts) (what + " counts") expected.Counts actual.Counts
    close (absolute scales.Sums) (what + " sums") expected.Sums actual.Sums
    close (absolute scales.Scatter) (what + " scatter") expected.Scatter actual.Scatter
    close [| tol * logLikScale |] (what + " log-likelihood") [| expected.LogLikelihood |] [| actual.LogLikelihood |]

/// The reference responsibilities of a pass and Σᵢ |log Σⱼ wⱼ N(xᵢ | j)|, the scale of the log-likelihood's tolerance.
let private referenceEStep (p: Problem) (c: Case) =
    let weighted =
        ReferenceMixtureKernels.Instance.WeightedLogProb(
            ReferenceMixtureKernels.Instance.Load(p.Data, c.N, c.D),
            p.Parameters
        )
    let norms = Array.init c.N (fun i -> GmmLinearAlgebra.LogSumExp(weighted, i * c.K, c.K))
    Array.init (c.N * c.K) (fun e -> exp (weighted.[e] - norms.[e / c.K])), Array.sumBy abs norms

let private statistics (t: CovarianceType) (c: Case) = MixtureStatistics(t, c.K, c.D)

/// The four checks of one problem on one device; the kernels come from the device's cache, as the library obtains them.
let private checks (t: CovarianceType) (c: Case) =
    let reference = ReferenceMixtureKernels.Instance :> IMixtureKernels
    let gpu (device: Device) = (device :?> GpuDevice).KernelSet(fun g -> GpuMixtureKernels g) :> IMixtureKernels
    let withData (device: Device) (body: IMixtureKernels -> IMixtureData -> IMixtureData -> Problem -> unit) =
        let p = problem t c
        let kernels = gpu device
        use data = kernels.Load(p.Data, c.N, c.D)
        use hostData = reference.Load(p.Data, c.N, c.D)
        body kernels data hostData p
    [ perBackend [ ilgpuCpu; cuda ] "pass" (fun _ device ->
          withData device (fun kernels data hostData p ->
              let expected, actual = statistics t c, statistics t c
              reference.Pass(hostData, p.Parameters, expected)
              kernels.Pass(data, p.Parameters, actual)
              let responsibilities, logLikScale = referenceEStep p c
              compareStatistics
                  "pass"
                  (termScales t c p.Data responsibilities p.Parameters.Means)
                  logLikScale
                  expected
                  actual))
      perBackend [ ilgpuCpu; cuda ] "accumulate" (fun _ device ->
          withData device (fun kernels data hostData p ->
              let expected, actual = statistics t c, statistics t c
              reference.Accumulate(hostData, p.Responsibilities, p.Shifts, expected)
              // A pass first leaves log-likelihoods and partial sums behind in the reused buffers.
              kernels.Pass(data, p.Parameters, actual)
              kernels.Accumulate(data, p.Responsibilities, p.Shifts, actual)
              Expect.equal actual.LogLikelihood 0.0 "accumulate leaves the log-likelihood 0"
              compareStatistics "accumulate" (termScales t c p.Data p.Responsibilities p.Shifts) 0.0 expected actual))
      perBackend [ ilgpuCpu; cuda ] "weighted log prob" (fun _ device ->
          withData device (fun kernels data hostData p ->
              let expected = reference.WeightedLogProb(hostData, p.Parameters)
              let actual = kernels.WeightedLogProb(data, p.Parameters)
              // log w - ½ (d log 2π + q) + log det: the rounding error scales with the largest term, at most
              // |result| + 2 (|log w| + |log det|), so the absolute part takes the largest such constant.
              let constants =
                  [ for j in 0 .. c.K - 1 ->
                        abs (log p.Parameters.Weights.[j])
                        + abs (GmmLinearAlgebra.LogDetPrecisionCholesky(t, p.Parameters.PrecisionsCholesky, j, c.D)) ]
              close
                  (Array.create expected.Length (tol * (1.0 + 2.0 * List.max constants)))
                  "weighted log prob"
                  expected
                  actual))
      perBackend [ ilgpuCpu; cuda ] "deterministic, finite far from every component" (fun _ device ->
          withData device (fun kernels data _ p ->
              let first, second = statistics t c, statistics t c
              kernels.Pass(data, p.Parameters, first)
              kernels.Pass(data, p.Parameters, second)
              let bits (s: MixtureStatistics) =
                  Array.concat [ [| s.LogLikelihood |]; s.Counts; s.Sums; s.Scatter ]
                  |> Array.map BitConverter.DoubleToInt64Bits
              Expect.sequenceEqual (bits second) (bits first) "two passes give bit-identical statistics"
              for v in Array.concat [ [| first.LogLikelihood |]; first.Counts; first.Sums; first.Scatter ] do
                  Expect.isTrue (Double.IsFinite v) "every statistic is finite"
              let far = kernels.WeightedLogProb(data, p.Parameters).[(c.N - 1) * c.K ..]
              Expect.isTrue
                  (far |> Array.forall (fun v -> Double.IsFinite v && v < -1e4))
                  "the far sample's log-densities are finite and very negative"
              // The far sample's responsibilities sum to one, so the counts still add up to n.
              Expect.floatClose Accuracy.veryHigh (Array.sum first.Counts) (float c.N) "counts sum to n")) ]

[<Tests>]
let tests =
    testList
        "gpu mixture kernels"
        [ for t in [ CovarianceType.Full; CovarianceType.Tied; CovarianceType.Diag; CovarianceType.Spherical ] ->
              testList
                  (t.SklearnName())
                  [ for c in cases -> testList (sprintf "n=%d d=%d k=%d" c.N c.D c.K) (checks t c) ] ]
