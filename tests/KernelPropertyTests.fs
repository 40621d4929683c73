/// Each backend against the Reference backend (the specification) on random shapes, plus the named edge cases.
module Hybrid.Tests.KernelPropertyTests

#nowarn "9" // the managed GEMM takes pointers: the test pins arrays with `fixed`

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open Hybrid.Core.Gpu

/// Stated tolerance against the float64-accumulating reference: 1e-4 relative, and an absolute part of 1e-4 or
/// 1e-5 of the largest expected magnitude, whichever is larger. A float32 sum of n terms carries an error proportional to
/// the size of its terms, not of its result, so a gradient element that cancels to near zero (weight gradients sum
/// thousands of products) is held to the scale of its neighbours.
let private relTol = 1e-4
let private absTolFor (expected: float32[]) =
    let scale = if expected.Length = 0 then 0.0 else expected |> Array.map (fun v -> abs (float v)) |> Array.max
    max 1e-4 (1e-5 * scale)

type GemmCase = { Shape: GemmShape; Seed: int }

type LayerCase = { Conv: Conv2dShape option; Linear: LinearShape; Bias: bool; BiasMask: bool; Seed: int }

let private gemmGen (maxDim: int) =
    gen {
        let! ta = Gen.elements [ Transpose.No; Transpose.Yes ]
        let! tb = Gen.elements [ Transpose.No; Transpose.Yes ]
        let! m = Gen.choose (0, maxDim)
        let! n = Gen.choose (0, maxDim)
        let! k = Gen.choose (0, maxDim)
        let! pad = Gen.choose (0, 3)
        let! alpha = Gen.elements [ 0.0f; 1.0f; -0.75f; 2.5f ]
        let! beta = Gen.elements [ 0.0f; 1.0f; 0.5f ]
        let! seed = Gen.choose (0, Int32.MaxValue)
        let lda = (if ta = Transpose.No then k else m) + pad
        let ldb = (if tb = Transpose.No then n else k) + pad
        return { Shape = GemmShape(ta, tb, m, n, k, alpha, max 1 lda, max 1 ldb, beta, max 1 (n + pad)); Seed = seed }
    }

/// The bias settings and data seed of a generated layer case: a bias or none, a mask on it when the case allows one.
let private layerCase (conv: Conv2dShape option) (linear: LinearShape) (maskableBias: bool) =
    gen {
        let! bias = Gen.elements [ true; false ]
        let! biasMask = if maskableBias then Gen.elements [ true; false ] else Gen.constant false
        let! seed = Gen.choose (0, Int32.MaxValue)
        return { Conv = conv; Linear = linear; Bias = bias; BiasMask = bias && biasMask; Seed = seed }
    }

/// A convolution's case; its linear shape is unused.
let private convCase (s: Conv2dShape) (maskableBias: bool) = layerCase (Some s) (LinearShape(0, 0, 0)) maskableBias

/// A height and a width drawn independently from one range.
let private heightWidth (low: int, high: int) = Gen.zip (Gen.choose (low, high)) (Gen.choose (low, high))

let private convGen (maxSize: int) (minBatch: int, maxBatch: int) =
    gen {
        let! groups = Gen.choose (1, 3)
        let! cg = Gen.choose (1, 3)
        let! og = Gen.choose (1, 3)
        let! batch = Gen.choose (minBatch, maxBatch)
        let! kh, kw = heightWidth (1, 4)
        let! sh, sw = heightWidth (1, 3)
        let! ph, pw = heightWidth (0, 2)
        let! dh, dw = heightWidth (1, 2)
        let! h, w = heightWidth (1, maxSize)
        // Grow the image until the dilated kernel fits the padded input.
        let h = max h (dh * (kh - 1) + 1 - 2 * ph)
        let w = max w (dw * (kw - 1) + 1 - 2 * pw)
        let s = Conv2dShape(batch, groups * cg, h, w, groups * og, kh, kw, sh, sw, ph, pw, dh, dw, groups)
        return! convCase s true
    }

/// A batch and input channels from the ranges given, and 1 to 20 output channels (for the fast-path generators below).
let private batchAndChannels (batches: int * int) (inputs: int * int) =
    gen {
        let! batch = Gen.choose batches
        let! cin = Gen.choose inputs
        let! cout = Gen.choose (1, 20)
        return batch, cin, cout
    }

/// Shapes whose output planes are whole 32-pixel strips, batches of 2 or more and one group: the Cpu backend's AVX-512
/// narrow-GEMM path takes these, which the general generator rarely produces.
let private stripConvGen =
    gen {
        let! batch, cin, cout = batchAndChannels (2, 4) (1, 9)
        let! k = Gen.elements [ 1; 3; 5 ]
        let! stride = Gen.choose (1, 2)
        let! dilation = Gen.choose (1, 2)
        let! pad = Gen.choose (0, 2)
        let! oh, ow = Gen.elements [ 8, 4; 4, 8; 8, 8; 16, 16; 2, 16; 32, 1; 16, 6 ]
        let! extraH = Gen.choose (0, stride - 1)
        let! extraW = Gen.choose (0, stride - 1)
        // The input size that gives exactly oh x ow outputs (the extra rows are dropped by the stride's rounding).
        let size o = (o - 1) * stride + dilation * (k - 1) + 1
        let pad = if size (min oh ow) - 2 * pad < 1 then 0 else pad
        let s =
            Conv2dShape(
                batch,
                cin,
                size oh - 2 * pad + extraH,
                size ow - 2 * pad + extraW,
                cout,
                k,
                k,
                stride,
                stride,
                pad,
                pad,
                dilation,
                dilation
            )
        return! convCase s false
    }

/// 3x3 convolutions at stride 1 and padding 1 with 8 or more input channels, batches of 2 to 5 and planes that tile into
/// 16-tile vectors (rows of 4, 8, 16 or 32 tiles) or, for (6, 8) and (10, 16), do not (the kernel must then decline them):
/// the Cpu backend's Winograd F(2x2, 3x3) forward, input gradient and weight gradient take these where AVX-512 is present
/// and the batch has an image per core.
let private winogradConvGen =
    gen {
        let! batch, cin, cout = batchAndChannels (2, 5) (8, 21)
        let! h, w = Gen.elements [ 8, 8; 16, 16; 32, 32; 12, 16; 16, 8; 4, 32; 8, 64; 6, 8; 10, 16 ]
        return! convCase (Conv2dShape(batch, cin, h, w, cout, 3, 3, 1, 1, 1, 1)) false
    }

let private linearGen (maxDim: int) =
    gen {
        let! batch = Gen.choose (0, 6)
        let! inF = Gen.choose (0, maxDim)
        let! outF = Gen.choose (0, maxDim)
        return! layerCase None (LinearShape(batch, inF, outF)) true
    }

let private onDevice (d: Device) g a b c0 =
    let cArr = up d c0
    Blas.Sgemm(g, up d a, up d b, cArr)
    cArr.ToArray()

/// Runs the GEMM on `device` and on the reference from the same data; C starts as NaN when beta = 0 (it must not be read).
/// Runs a GEMM implementation (given A, B and the starting C, returning C) against the reference from the same data.
let checkGemmWith (gemm: GemmShape -> float32[] -> float32[] -> float32[] -> float32[]) (c: GemmCase) =
    let g = c.Shape
    let rng = Random c.Seed
    let struct (ar, ac) = g.AStored
    let struct (br, bc) = g.BStored
    let a = randomNormal rng (if ar = 0 then 0 else (ar - 1) * g.Lda + ac)
    let b = randomNormal rng (if br = 0 then 0 else (br - 1) * g.Ldb + bc)
    let cLen = if g.M = 0 then 0 else (g.M - 1) * g.Ldc + g.N
    let c0 = if g.Beta = 0.0f then Array.create cLen nanf else randomNormal rng cLen
    let expected = onDevice Device.Reference g a b c0
    let actual = gemm g a b c0
    // Only C's logical elements are compared: padding between rows is never written.
    let logical (arr: float32[]) =
        [| for i in 0 .. g.M - 1 do
               for j in 0 .. g.N - 1 -> arr.[i * g.Ldc + j] |]
    closeTo (absTolFor (logical expected)) relTol (sprintf "%A" g) (logical expected) (logical actual)
    Expect.isFalse (logical actual |> Array.exists Single.IsNaN) "no NaN from C when beta = 0"

let checkGemm (device: Device) (c: GemmCase) = checkGemmWith (onDevice device) c

/// The Cpu backend's managed GEMM (BLIS-style blocking and packing), the fallback when OpenBLAS is missing, called directly.
let private managedGemm (g: GemmShape) (a: float32[]) (b: float32[]) (c0: float32[]) =
    let c = Array.copy c0
    // Empty arrays still need a valid address for `fixed`.
    let a, b = (if a.Length = 0 then [| 0.0f |] else a), (if b.Length = 0 then [| 0.0f |] else b)
    use pa = fixed a
    use pb = fixed b
    use pc = fixed (if c.Length = 0 then [| 0.0f |] else c)
    Hybrid.Core.Gpu.Cpu.ManagedGemm.Run(&g, pa, pb, pc, true)
    c

/// Forward and full backward (every gradient, both mask rules) of a masked layer, and the sparse forward of its weights.
let private runLayer (device: Device) (c: LayerCase) (rule: MaskGradient) =
    let rng = Random c.Seed
    let inLen, outLen, wLen, bLen =
        match c.Conv with
        | Some s -> s.InputLength, s.OutputLength, s.WeightLength, s.OutChannels
        | None -> c.Linear.InputLength, c.Linear.OutputLength, c.Linear.WeightLength, c.Linear.OutFeatures
    let x, w, s = randomNormal rng inLen, randomNormal rng wLen, randomNormal rng wLen
    let b, bs = randomNormal rng bLen, randomNormal rng bLen
    let gOut = randomNormal rng outLen
    let p =
        LayerParameters(
            up device w,
            up device s,
            (if c.Bias then up device b else null),
            (if c.BiasMask then up device bs else null)
        )
    let xd = up device x
    let y = device.Allocate<float32> outLen
    let gx, gweff, gs, gw =
        device.Allocate<float32> inLen,
        device.Allocate<float32> wLen,
        device.Allocate<float32> wLen,
        device.Allocate<float32> wLen
    let gb = if c.Bias then device.Allocate<float32> bLen else null
    let gbs = if c.BiasMask then device.Allocate<float32> bLen else null
    let grads = LayerGradients(gx, gweff, gs, gw, gb, gbs, rule)
    let ySparse = device.Allocate<float32> outLen
    let bEff =
        if c.Bias then up device (Array.map2 (fun b s -> if c.BiasMask && s <= 0.0f then 0.0f else b) b bs) else null
    match c.Conv with
    | Some shape ->
        Conv2d.Forward(shape, p, xd, y)
        Conv2d.Backward(shape, p, xd, up device gOut, grads)
        use csr = CsrWeights.FromMasked(p, shape.OutChannels, shape.FilterLength)
        Sparse.Conv2dForward(shape, csr, bEff, xd, ySparse)
    | None ->
        Linear.Forward(c.Linear, p, xd, y)
        Linear.Backward(c.Linear, p, xd, up device gOut, grads)
        use csr = CsrWeights.FromMasked(p, c.Linear.OutFeatures, c.Linear.InFeatures)
        Sparse.LinearForward(c.Linear, csr, bEff, xd, ySparse)
    let outputs =
        [ "y", y; "grad_x", gx; "grad_weff", gweff; "grad_s", gs; "grad_w", gw; "y sparse", ySparse ]
        @ (if c.Bias then [ "grad_b", gb ] else [])
        @ (if c.BiasMask then [ "grad_bias_scores", gbs ] else [])
        |> List.map (fun (name, arr) -> name, arr.ToArray())
    w, outputs

/// checkLayer, with the score gradient's absolute tolerance at element i raised to scoreSlack * |w_i| where that is larger:
/// dL/ds = dL/dw_eff * w, so an error e in dL/dw_eff moves it by |w_i| e. SeaM's rule clips dL/ds to [-1, 1], which hides
/// dL/dw_eff's scale from absTolFor (the largest expected value is 1, so 1e-4 is left), while dL/dw_eff itself is held to
/// 1e-5 of its own, far larger, scale.
let private checkLayerWith (scoreSlack: float) (device: Device) (c: LayerCase) =
    for rule in [ MaskGradient.StraightThrough; MaskGradient.ClippedStraightThrough ] do
        let w, expected = runLayer Device.Reference c rule
        let _, actual = runLayer device c rule
        for (name, e), (_, a) in List.zip expected actual do
            let what = sprintf "%s of %A (%A)" name c rule
            if name = "grad_s" && scoreSlack > 0.0 then
                for i in 0 .. e.Length - 1 do
                    let tol = max (absTolFor e) (scoreSlack * abs (float w.[i])) + relTol * abs (float e.[i])
                    // Negated so that a NaN fails.
                    if not (abs (float a.[i] - float e.[i]) <= tol) then
                        failElement what i (float a.[i]) (float e.[i]) $"{tol} abs"
            else
                closeTo (absTolFor e) relTol what e a

let checkLayer (device: Device) (c: LayerCase) = checkLayerWith 0.0 device c

/// The image-lane shapes of the Cpu sparse forward (see the tests below); a weight gradient there sums
/// n = batch * output pixels products (4,752 to 10,143). A float32 sum of n unit-variance terms taken one at a time
/// (ILGPU's GEMM keeps one accumulator per element along K) rounds each partial sum, of size about sqrt k at step k, by up
/// to 2^-24 of it: a random walk of standard deviation about 2^-24 n / sqrt 2. Measured on ILGPU's CPU accelerator at
/// n = 4,752: its dL/dw_eff equals a sequential float32 sum in its column order bit for bit, and is 5.8e-4 (2.05 * 2^-24 n)
/// from the float64 reference at worst of 2,304 elements. The slack is 6 * 2^-24 n (8.5 standard deviations) on the ILGPU
/// backends; the Cpu backend's blocked sums (6.1e-5 there) stay held to absTolFor.
let private checkImageLanes (sequentialSums: bool) (device: Device) (shape: Conv2dShape) (bias: bool) =
    let n = shape.Batch * shape.OutHeight * shape.OutWidth
    checkLayerWith
        (if sequentialSums then 6.0 * float n / 16777216.0 else 0.0)
        device
        { Conv = Some shape; Linear = LinearShape(0, 0, 0); Bias = bias; BiasMask = false; Seed = 11 }

let private property (slow: bool) name (generator: Gen<'T>) (check: 'T -> unit) =
    let config = { FsCheckConfig.defaultConfig with maxTest = (if slow then 12 else 60) }
    testPropertyWithConfig config name (Prop.forAll (Arb.fromGen generator) check)

let private imageLaneShapes =
    [ "conv 32 -> 12 channels, 21x21, batch 23", Conv2dShape.Square(23, 32, 21, 12, 3, p = 1), true
      "conv 36 -> 8 channels, 34x34, stride 2, batch 31", Conv2dShape.Square(31, 36, 34, 8, 3, s = 2, p = 1), false
      "conv 32 -> 8 channels, 12x12, batch 33", Conv2dShape.Square(33, 32, 12, 8, 3, p = 1), true ]

/// Named edge cases: each backend against the reference.
let private edgeCases: (string * (Device -> unit)) list =
    let gemm ta tb m n k alpha beta =
        fun d -> checkGemm d { Shape = GemmShape.Dense(ta, tb, m, n, k, alpha, beta); Seed = 7 }
    let conv s bias =
        fun d -> checkLayer d { Conv = Some s; Linear = LinearShape(0, 0, 0); Bias = bias; BiasMask = false; Seed = 11 }
    let linear s = fun d -> checkLayer d { Conv = None; Linear = s; Bias = true; BiasMask = true; Seed = 13 }
    [ "gemm 1x1x1", gemm Transpose.No Transpose.No 1 1 1 1.0f 0.0f
      "gemm odd sizes, K = 13 (not a multiple of the vector width)", gemm Transpose.No Transpose.Yes 7 9 13 1.0f 0.0f
      "gemm K = 33, both transposed", gemm Transpose.Yes Transpose.Yes 17 5 33 1.0f 1.0f
      "gemm alpha = 0 scales C by beta", gemm Transpose.No Transpose.No 5 6 7 0.0f 0.5f
      "gemm alpha = 0, beta = 0 with NaN in C gives zeros", gemm Transpose.No Transpose.No 5 6 7 0.0f 0.0f
      "gemm beta = 0 with NaN in C", gemm Transpose.Yes Transpose.No 9 11 17 1.0f 0.0f
      "gemm K = 0", gemm Transpose.No Transpose.No 4 3 0 1.0f 0.5f
      "gemm M = 0", gemm Transpose.No Transpose.No 0 3 4 1.0f 0.0f
      "gemm N = 0", gemm Transpose.No Transpose.No 3 0 4 1.0f 0.0f
      "conv 1x1 image, 1x1 kernel", conv (Conv2dShape.Square(2, 3, 1, 4, 1)) true
      "conv odd sizes", conv (Conv2dShape(2, 3, 7, 5, 5, 3, 2, 2, 1, 1, 0, 1, 1, 1)) true
      "conv K = 13 per filter (not a multiple of the vector width)", conv (Conv2dShape(1, 13, 6, 6, 3, 1, 1)) false
      "conv empty batch", conv (Conv2dShape.Square(0, 4, 5, 6, 3, p = 1)) true
      "conv depthwise (groups = channels)", conv (Conv2dShape.Square(2, 6, 7, 6, 3, p = 1, g = 6)) true
      "conv depthwise, channel multiplier 2", conv (Conv2dShape.Square(2, 4, 6, 8, 3, s = 2, p = 1, g = 4)) true
      "conv dilation 2, kernel 5, stride 2", conv (Conv2dShape.Square(1, 2, 11, 3, 5, s = 2, p = 2, d = 2)) true
      "conv pointwise", conv (Conv2dShape.Square(3, 5, 10, 7, 1)) true
      // One deep image: the Cpu sparse forward splits its output channels across tasks (and, at stride 2, its phases).
      "conv 24 -> 32 channels, 16x16, batch 1", conv (Conv2dShape.Square(1, 24, 16, 32, 3, p = 1)) true
      "conv 24 -> 32 channels, 16x16, stride 2, batch 1",
      conv (Conv2dShape.Square(1, 24, 16, 32, 3, s = 2, p = 1)) false
      // The Cpu sparse forward stacks a chunk of images into one tall plane per channel and phase: a short last chunk
      // (17 = 4 chunks of 4 and 1), at stride 2, and 8x8 planes whose rows between images are scratch.
      "conv 16 -> 32 channels, 16x16, stride 2, batch 17",
      conv (Conv2dShape.Square(17, 16, 16, 32, 3, s = 2, p = 1)) true
      "conv 64 -> 64 channels, 8x8, batch 16", conv (Conv2dShape.Square(16, 64, 8, 64, 3, p = 1)) false
      // Output planes no larger than the output channel count: the Cpu backend folds the batch into one GEMM's N.
      "conv 64 -> 96 channels, 4x4, batch 6", conv (Conv2dShape.Square(6, 64, 4, 96, 3, p = 1)) true
      "linear empty batch", linear (LinearShape(0, 5, 3))
      "linear no inputs", linear (LinearShape(4, 0, 3))
      "linear K = 33", linear (LinearShape(7, 33, 10)) ]

/// Named convolutions as test cases against the reference: (name, shape, bias), no bias mask, seed 11.
let private namedShapes (name: string) (device: unit -> Device) (cases: (string * Conv2dShape * bool) list) =
    testList
        name
        [ for caseName, shape, bias in cases ->
              testCase caseName (fun () ->
                  checkLayer
                      (device ())
                      { Conv = Some shape; Linear = LinearShape(0, 0, 0); Bias = bias; BiasMask = false; Seed = 11 }) ]

[<Tests>]
let tests =
    testList
        "backends vs reference"
        [ yield!
              [ for b in others ->
                    if b.Name = cuda.Name && not Device.CudaAvailable then
                        testCase b.Name (fun () -> skiptest "no CUDA device on this machine")
                    else
                        let device () = b.Device.Value.Value
                        let size = if b.Slow then 12 else 40
                        testList
                            b.Name
                            [ testList
                                  "edge cases"
                                  [ for name, check in edgeCases -> testCase name (fun () -> check (device ())) ]
                              property b.Slow "gemm" (gemmGen size) (fun c -> checkGemm (device ()) c)
                              property
                                  b.Slow
                                  "masked conv2d forward, backward, sparse"
                                  (convGen (if b.Slow then 6 else 12) (0, 3))
                                  (fun c -> checkLayer (device ()) c)
                              property b.Slow "masked linear forward, backward, sparse" (linearGen size) (fun c ->
                                  checkLayer (device ()) c)
                              // From 16 to 31 images the Cpu sparse forward stages cells of 16 image lanes: rows of 16 +
                              // 4 + 1 pixels, a short last chunk (23 = 16 + 7), at stride 2 rows of 16 + 1; from 32
                              // images, cells of 32 lanes and a chunk of 1. Each shape costs the ILGPU CPU accelerator
                              // about a minute of CPU per mask rule (the 10,143-column one two), so the slow backends run
                              // the cheapest, which still takes a batch above 20 through their masked backward.
                              testList
                                  "sparse image-lane shapes"
                                  [ for name, shape, bias in
                                        (if b.Slow then [ List.last imageLaneShapes ] else imageLaneShapes) ->
                                        testCase name (fun () ->
                                            checkImageLanes (b.Name <> cpu.Name) (device ()) shape bias) ]
                              if not b.Slow then
                                  property b.Slow "masked conv2d on whole 32-pixel strips" stripConvGen (fun c ->
                                      checkLayer (device ()) c)
                                  property
                                      b.Slow
                                      "masked conv2d 3x3, stride 1, padding 1 (Winograd shapes)"
                                      winogradConvGen
                                      (fun c -> checkLayer (device ()) c)
                                  // Filters too many for the narrow Winograd kernel on small planes: the Cpu backend's
                                  // Winograd through OpenBLAS GEMMs (forward and input gradient; 12 tiles per image in
                                  // the second); and a stride-2 forward with 288 taps, im2col + GEMM over image chunks.
                                  namedShapes
                                      "large-channel small-image shapes"
                                      device
                                      ([ "conv 256 -> 264 channels, 4x4, batch 3",
                                         Conv2dShape.Square(3, 256, 4, 264, 3, p = 1),
                                         true
                                         "conv 264 -> 256 channels, 6x8, batch 2",
                                         Conv2dShape(2, 264, 6, 8, 256, 3, 3, 1, 1, 1, 1),
                                         false
                                         "conv 32 -> 64 channels, 16x16, stride 2, batch 4",
                                         Conv2dShape.Square(4, 32, 16, 64, 3, s = 2, p = 1),
                                         false ])
                                  // Batches of 8 and more: the Cpu backend's sparse forward restages 8 images at a time.
                                  property b.Slow "masked conv2d, batches of 8 to 20" (convGen 9 (8, 20)) (fun c ->
                                      checkLayer (device ()) c) ] ]
          testList
              "cpu managed GEMM (the fallback without OpenBLAS)"
              [
                // Sizes up to 300 cross the blocking (MC 144, KC 256) and the 6x16 micro-tile edges.
                yield property false "random shapes" (gemmGen 300) (checkGemmWith managedGemm)
                for ta, tb, m, n, k, alpha, beta in
                    [ Transpose.No, Transpose.No, 1, 1, 1, 1.0f, 0.0f
                      Transpose.Yes, Transpose.Yes, 145, 17, 257, 1.0f, 0.0f
                      Transpose.No, Transpose.Yes, 6, 16, 0, 1.0f, 0.5f
                      Transpose.Yes, Transpose.No, 7, 33, 13, 0.0f, 0.0f ] ->
                    testCase (sprintf "%dx%dx%d alpha %g beta %g" m n k alpha beta) (fun () ->
                        checkGemmWith managedGemm { Shape = GemmShape.Dense(ta, tb, m, n, k, alpha, beta); Seed = 3 }) ]
          // The shared sampler takes its cosine from Math.SinCos; the samplers it replaced called cos and sin, and their seeded
          // sequences (fixtures, golden values) stay the same only if the two agree to the bit.
          testCase "Box-Muller pairs equal the cos and sin formula bit for bit" (fun () ->
              let rng = Random 11
              for _ in 1..200000 do
                  let u1, u2 = rng.NextDouble(), rng.NextDouble()
                  let radius = sqrt (-2.0 * log (1.0 - u1))
                  let struct (c, s) = BoxMuller.Pair(u1, u2)
                  Expect.equal
                      (BitConverter.DoubleToInt64Bits c)
                      (BitConverter.DoubleToInt64Bits(radius * cos (2.0 * Math.PI * u2)))
                      "cosine half"
                  Expect.equal
                      (BitConverter.DoubleToInt64Bits s)
                      (BitConverter.DoubleToInt64Bits(radius * sin (2.0 * Math.PI * u2)))
                      "sine half") ]
