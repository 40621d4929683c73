/// The kernel self-check of `hybrid demo` and `hybrid selfcheck`: every backend against the Reference backend (the
/// specification) on seeded random shapes, so a user can see on their own machine that the fast paths compute what the
/// plain loops compute.
module Hybrid.Bench.SelfCheck

open System
open Hybrid.Core.Gpu

/// One operation on one shape on one device, compared with the reference.
type Check =
    {
        Operation: string
        Shape: string
        Device: string
        /// Largest |ours - reference| / (absolute tolerance + RelTol * |reference|) over all outputs; at most 1 passes.
        WorstRatio: float
        Passed: bool
    }

/// Tolerances of the comparison: float32 kernels against a float64-accumulating reference. The absolute part is AbsTol or
/// ScaleTol times the largest reference magnitude of that output, whichever is larger: a float32 sum errs in proportion to
/// its terms, so an element that cancels to near zero is held to the scale of its neighbours.
let AbsTol, RelTol, ScaleTol = 1e-4, 1e-4, 1e-5

let private normals (rng: Random) n = BoxMuller.Singles(rng, n)

let private worstRatio (expected: float32[]) (actual: float32[]) =
    let scale = expected |> Array.fold (fun m v -> max m (abs (float v))) 0.0
    let absTol = max AbsTol (ScaleTol * scale)
    Seq.fold2
        (fun worst (e: float32) (a: float32) ->
            let r = abs (float a - float e) / (absTol + RelTol * abs (float e))
            if Double.IsNaN r then infinity else max worst r)
        0.0
        expected
        actual

/// The outputs of one operation on one device, named, as host arrays.
type private Run = Device -> (string * float32[]) list

let private upload (d: Device) (a: float32[]) = d.Upload<float32>(ReadOnlySpan a)

let private gemmRun (rng: Random) : string * Run =
    let m, n, k = rng.Next(1, 200), rng.Next(1, 200), rng.Next(1, 300)
    let ta = if rng.Next 2 = 0 then Transpose.No else Transpose.Yes
    let tb = if rng.Next 2 = 0 then Transpose.No else Transpose.Yes
    let g = GemmShape.Dense(ta, tb, m, n, k, 1.0f, 0.0f)
    let a, b = normals rng (m * k), normals rng (k * n)
    sprintf "%dx%dx%d, A%s B%s" m n k (if ta = Transpose.Yes then "T" else "") (if tb = Transpose.Yes then "T" else ""),
    fun d ->
        let c = d.Allocate<float32>(m * n)
        Blas.Sgemm(g, upload d a, upload d b, c)
        [ "C", c.ToArray() ]

let private convRun (rng: Random) : string * Run =
    let groups = [| 1; 1; 2; 4 |].[rng.Next 4]
    let cin, cout = groups * rng.Next(1, 9), groups * rng.Next(1, 9)
    let k = [| 1; 3; 3; 5 |].[rng.Next 4]
    let size, stride, pad = rng.Next(k, 20), rng.Next(1, 3), rng.Next(0, k / 2 + 1)
    let s = Conv2dShape.Square(rng.Next(1, 5), cin, size, cout, k, stride, pad, 1, groups)
    let x, w, scores, b, gOut =
        normals rng s.InputLength,
        normals rng s.WeightLength,
        normals rng s.WeightLength,
        normals rng cout,
        normals rng s.OutputLength
    sprintf
        "x %dx%dx%dx%d w %dx%dx%dx%d s%d p%d g%d"
        s.Batch
        cin
        size
        size
        cout
        s.InChannelsPerGroup
        k
        k
        stride
        pad
        groups,
    fun d ->
        let p = LayerParameters(upload d w, upload d scores, upload d b)
        let xd = upload d x
        let y, gx, gs, gw, gb =
            d.Allocate<float32> s.OutputLength,
            d.Allocate<float32> s.InputLength,
            d.Allocate<float32> s.WeightLength,
            d.Allocate<float32> s.WeightLength,
            d.Allocate<float32> cout
        Conv2d.Forward(s, p, xd, y)
        Conv2d.Backward(s, p, xd, upload d gOut, LayerGradients(Input = gx, WeightScores = gs, Weight = gw, Bias = gb))
        let ySparse = d.Allocate<float32> s.OutputLength
        use csr = CsrWeights.FromMasked(p, s.OutChannels, s.FilterLength)
        Sparse.Conv2dForward(s, csr, p.Bias, xd, ySparse)
        [ "y", y; "grad x", gx; "grad scores", gs; "grad w", gw; "grad b", gb; "sparse y", ySparse ]
        |> List.map (fun (name, a) -> name, a.ToArray())

let private linearRun (rng: Random) : string * Run =
    let s = LinearShape(rng.Next(1, 64), rng.Next(1, 300), rng.Next(1, 100))
    let x, w, scores, b, gOut =
        normals rng s.InputLength,
        normals rng s.WeightLength,
        normals rng s.WeightLength,
        normals rng s.OutFeatures,
        normals rng s.OutputLength
    sprintf "batch %d, %d -> %d" s.Batch s.InFeatures s.OutFeatures,
    fun d ->
        let p = LayerParameters(upload d w, upload d scores, upload d b)
        let xd = upload d x
        let y, gx, gs, gb =
            d.Allocate<float32> s.OutputLength,
            d.Allocate<float32> s.InputLength,
            d.Allocate<float32> s.WeightLength,
            d.Allocate<float32> s.OutFeatures
        Linear.Forward(s, p, xd, y)
        Linear.Backward(
            s,
            p,
            xd,
            upload d gOut,
            LayerGradients(Input = gx, WeightScores = gs, Bias = gb, MaskRule = MaskGradient.ClippedStraightThrough)
        )
        [ "y", y; "grad x", gx; "grad scores", gs; "grad b", gb ] |> List.map (fun (name, a) -> name, a.ToArray())

/// Runs `count` random cases of each operation (seeded) on each device and compares every output with the reference.
let run (devices: Device list) (seed: int) (count: int) : Check list =
    let rng = Random seed
    [ for i in 1..count do
          // conv2d: forward, every gradient, and the sparse forward; linear: forward and gradients with SeaM's clipped rule.
          for operation, make in [ "sgemm", gemmRun; "masked conv2d", convRun; "masked linear", linearRun ] do
              let shape, run = make rng
              let expected = run Device.Reference
              for d in devices do
                  let actual = run d
                  let worst = List.map2 (fun (_, e) (_, a) -> worstRatio e a) expected actual |> List.max
                  yield
                      { Operation = operation
                        Shape = shape
                        Device = d.Name
                        WorstRatio = worst
                        Passed = worst <= 1.0 } ]
