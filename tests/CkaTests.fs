/// The public CKA API (Gram, CentredGram, GramAccumulator, Cka, MinibatchCka) on every backend: the values of
/// ../shared/fixtures/kernels/cka.*, agreement with the Reference specification (ReferenceCka), the properties CKA
/// must have, and the refusal of bad input. The ILGPU CPU accelerator is slow, so it gets small shapes.
module Hybrid.Tests.CkaTests

#nowarn "9" // the packed Cpu kernel is called through pointers, as its callers do

open System
open Expecto
open Hybrid.Core.Gpu
open Hybrid.Core.Gpu.Cpu
open Hybrid.Core.Gpu.Reference

// Stated tolerances.
// Fixture values: 1e-6 absolute, as for the reference (float32 inputs, float64 sums; the fixture's own rounding).
// Backend against Reference on the same inputs: both sum exact float64 products, only in another order, so Gram
//   entries agree to 1e-12 relative to the scale |x_i| |x_j| (p <= 1,000: worst case p u = 1e-13) and CKA values
//   to 1e-10 absolute; RBF entries lose a little more to the distance cancellation (see GramKernels), 1e-9.
// Identities between two float64 forms of one quantity (packed dot = CKA, feature space = Gram form, minibatch of
//   one batch = full batch, chunked = one-shot Gram): 1e-10 absolute (1e-12 relative for Gram entries).
// Invariances on random data: 1e-5 absolute, since transformed activations are rounded back to float32.
let private fixtureTol = 1e-6
let private backendTol = 1e-10
let private rbfBackendTol = 1e-9
let private identityTol = 1e-10
let private gramRelTol = 1e-12
let private invarianceTol = 1e-5

/// Every entry within absTol + relTol * scale, scale = the largest |expected| (Gram entries share one scale).
let private allNear (absTol: float) (relTol: float) (what: string) (expected: float[]) (actual: float[]) =
    Expect.equal actual.Length expected.Length (what + ": length")
    let scale = expected |> Array.fold (fun m v -> max m (abs v)) 0.0
    for e in 0 .. expected.Length - 1 do
        if not (abs (actual.[e] - expected.[e]) <= absTol + relTol * scale) then
            failtestf
                "%s: element %d is %.17g, expected %.17g (tolerance %g abs + %g x %g)"
                what
                e
                actual.[e]
                expected.[e]
                absTol
                relTol
                scale

let private fixtureActivations (name: string) =
    let data, p = CkaReferenceTests.activations name
    Activations(ReadOnlyMemory data, data.Length / p, p)

let private random (seed: int) (n: int) (p: int) = Activations.Of(randomNormal (Random seed) (n * p), n)

let private host (x: Activations) = x.Data.ToArray()

let private rbf (sigma: float) = CkaOptions(Kernel = CkaKernel.Rbf, SigmaFraction = sigma)
let private debiased = CkaOptions(Debiased = true)

/// The kernels every property is checked with.
let private variants = [ "linear", CkaOptions.Default; "rbf", rbf 0.8; "debiased", debiased ]

/// The specification's CKA for one variant.
let private referenceCka (options: CkaOptions) (x: Activations) (y: Activations) =
    let n = x.Samples
    if options.Kernel = CkaKernel.Rbf then
        ReferenceCka.RbfCka(host x, host y, n, x.Features, y.Features, options.SigmaFraction, options.Debiased)
    else
        ReferenceCka.LinearCka(host x, host y, n, x.Features, y.Features, options.Debiased)

let private fixtureTests =
    perBackend all "fixture" (fun _ device ->
        let ex = CkaReferenceTests.expected.Value
        let x, y, z = fixtureActivations "X", fixtureActivations "Y", fixtureActivations "Z"
        let layers = [| x; y; z |]
        let m = Cka.Matrix(device, layers, layers)
        CkaReferenceTests.near fixtureTol "linear_cka_xy" ex.LinearXY m.[0, 1]
        CkaReferenceTests.near fixtureTol "linear_cka_xz" ex.LinearXZ m.[0, 2]
        CkaReferenceTests.near fixtureTol "linear_cka_yz" ex.LinearYZ m.[1, 2]
        CkaReferenceTests.near fixtureTol "rbf_cka_xy" ex.RbfXY (Cka.Score(device, x, y, rbf ex.SigmaFraction))
        CkaReferenceTests.near fixtureTol "debiased_linear_cka_xy" ex.DebiasedXY (Cka.Score(device, x, y, debiased))

        let gx, gy =
            Gram.Centre(device, Gram.Linear(device, x), ex.N), Gram.Centre(device, Gram.Linear(device, y), ex.N)
        let normalised = gx.Matrix.ToArray() |> Array.map (fun v -> float32 (v / gx.FrobeniusNorm))
        closeTo
            fixtureTol
            0.0
            "hkh_x_normalized"
            (CkaReferenceTests.fixtureFile.Value.ReadFloat32 "hkh_x_normalized")
            normalised
        let packed = Array.fold2 (fun s a b -> s + a * b) 0.0 (gx.PackedEncoding()) (gy.PackedEncoding())
        CkaReferenceTests.near fixtureTol "packed encodings: dot product = linear_cka_xy" ex.LinearXY packed)

/// Shapes (n, p) for comparisons with the Reference: remainders of 16, two 64-row tiles and several feature slices
/// for the GPU kernel, several workers and chunks for the Cpu kernel.
let private shapes (b: Backend) = if b.Slow then [ 5, 3; 13, 37; 70, 300 ] else [ 5, 3; 13, 37; 70, 300; 100, 1500 ]

/// The upper triangle of X Xᵀ from GramMicroKernel on one packed chunk (padded to whole panels).
let private packedUpperGram (x: float32[]) (n: int) (k: int) (wide: bool) =
    let np = GramMicroKernel.Rows n
    let panels = Array.zeroCreate<float>(np * k)
    let c = Array.zeroCreate<float>(np * np)
    use px = fixed x
    use pp = fixed panels
    use pc = fixed c
    GramMicroKernel.Pack(px, int64 k, n, k, pp)
    if wide then GramMicroKernel.AddUpperWide(pp, np, k, pc) else GramMicroKernel.AddUpperNarrow(pp, np, k, pc)
    c

let private agreementTests =
    testList
        "agrees with the reference"
        [ perBackend others "linear Gram, centring, RBF Gram" (fun b device ->
              for (n, p) in shapes b do
                  let x = random (n * 1000 + p) n p
                  let what = sprintf "%d x %d" n p
                  let k = Gram.Linear(device, x)
                  let expected = ReferenceCka.LinearGram(host x, n, p)
                  allNear 0.0 gramRelTol ("K " + what) expected k
                  Expect.equal (Gram.Linear(device, x)) k ("K is deterministic " + what)
                  let centred = Gram.Centre(device, k, n)
                  let hkh = ReferenceCka.Centre(expected, n)
                  allNear 0.0 gramRelTol ("HKH " + what) hkh (centred.Matrix.ToArray())
                  CkaReferenceTests.near
                      (gramRelTol * centred.FrobeniusNorm)
                      ("||HKH|| " + what)
                      (Hybrid.Core.Gpu.Maths.CkaMaths.FrobeniusNorm hkh)
                      centred.FrobeniusNorm
                  if n >= 2 then
                      allNear
                          rbfBackendTol
                          0.0
                          ("RBF K " + what)
                          (ReferenceCka.RbfGram(host x, n, p, 0.8))
                          (Gram.Rbf(device, x, 0.8)))

          test "cpu: the managed kernel and dsyrk each equal the reference" {
              let engines =
                  [ yield "managed", CpuGramKernels.Managed :> IGramKernels
                    if OpenBlas.Available then
                        yield "dsyrk", CpuGramKernels.OpenBlasOnly :> IGramKernels ]
              for name, kernels in engines do
                  for (n, p) in [ 8, 64; 5, 3; 13, 37; 70, 300; 100, 1500 ] do
                      let x = random (n + p) n p
                      use sum = kernels.Sum(n)
                      sum.Add(x.Data, p)
                      allNear
                          0.0
                          gramRelTol
                          (sprintf "%s K %d x %d" name n p)
                          (ReferenceCka.LinearGram(host x, n, p))
                          (sum.Gram())
          }

          test "cpu: the packed kernel's 256-bit and 512-bit tiles each equal the reference" {
              for (n, k) in [ 5, 3; 8, 16; 13, 37; 40, 29; 100, 320 ] do
                  let x = random (n * k) n k
                  let expected = ReferenceCka.LinearGram(host x, n, k)
                  for name, wide in [ "256-bit", false; "512-bit", true ] do
                      let upper = packedUpperGram (host x) n k wide
                      let np = GramMicroKernel.Rows n
                      let actual =
                          Array.init (n * n) (fun e -> let i, j = e / n, e % n in upper.[min i j * np + max i j])
                      allNear 0.0 gramRelTol (sprintf "%s tiles, %d x %d" name n k) expected actual
                  // Both add each entry's features in order in one lane, whatever the tile: the same bits.
                  let np = GramMicroKernel.Rows n
                  let upper (c: float[]) =
                      [| for i in 0 .. n - 1 do
                             for j in i .. n - 1 -> c.[i * np + j] |]
                  Expect.equal
                      (upper (packedUpperGram (host x) n k true))
                      (upper (packedUpperGram (host x) n k false))
                      (sprintf "512-bit and 256-bit tiles give the same bits, %d x %d" n k)
          }

          perBackend others "CKA values" (fun b device ->
              let n, p, q = if b.Slow then 12, 9, 14 else 60, 90, 40
              let x, y = random 1 n p, random 2 n q
              for name, options in variants do
                  CkaReferenceTests.near
                      (if options.Kernel = CkaKernel.Rbf then rbfBackendTol else backendTol)
                      name
                      (referenceCka options x y)
                      (Cka.Score(device, x, y, options))) ]

/// A few seeded cases per backend rather than FsCheck's many: every case runs on the slow simulator too.
let private cases (b: Backend) = if b.Slow then [ 7, 3, 5 ] else [ 7, 3, 5; 10, 6, 2; 40, 30, 55; 100, 300, 200 ]

let private propertyTests =
    testList
        "properties"
        [ perBackend all "symmetric, CKA(X, X) = 1, invariant to rotation and isotropic scaling" (fun b device ->
              for (n, p, q) in cases b do
                  let rng = Random(n * 31 + p)
                  let x, y = random (n + 1) n p, random (n + 2) n q
                  let scaledX = Activations.Of(host x |> Array.map (fun v -> v * 7.5f), n)
                  let scaledY = Activations.Of(host y |> Array.map (fun v -> v * 1e-3f), n)
                  let rotatedX =
                      Activations.Of(CkaReferenceTests.rotate (host x) n p (CkaReferenceTests.orthogonal rng p), n)
                  let rotatedY =
                      Activations.Of(CkaReferenceTests.rotate (host y) n q (CkaReferenceTests.orthogonal rng q), n)
                  for name, options in variants do
                      let what = sprintf "%s, n=%d p=%d q=%d" name n p q
                      let score a c = Cka.Score(device, a, c, options)
                      let xy = score x y
                      CkaReferenceTests.near identityTol ("symmetric " + what) xy (score y x)
                      CkaReferenceTests.near identityTol ("CKA(X, X) = 1 " + what) 1.0 (score x x)
                      CkaReferenceTests.near invarianceTol ("isotropic scaling of X " + what) xy (score scaledX y)
                      CkaReferenceTests.near invarianceTol ("isotropic scaling of Y " + what) xy (score x scaledY)
                      // RBF CKA is invariant too: rotations keep every distance, hence the median and the kernel.
                      CkaReferenceTests.near invarianceTol ("orthogonal transform of X " + what) xy (score rotatedX y)
                      CkaReferenceTests.near invarianceTol ("orthogonal transform of Y " + what) xy (score x rotatedY))

          perBackend all "packed-encoding dot product = linear CKA; float32 encoding" (fun b device ->
              for (n, p, q) in cases b do
                  let x, y = random (n + 3) n p, random (n + 4) n q
                  let gx, gy =
                      Gram.Centre(device, Gram.Linear(device, x), n), Gram.Centre(device, Gram.Linear(device, y), n)
                  let ex, ey = gx.PackedEncoding(), gy.PackedEncoding()
                  Expect.equal ex.Length (n * (n + 1) / 2) "n(n+1)/2 entries"
                  let dot (a: float[]) (c: float[]) = Array.fold2 (fun s u v -> s + u * v) 0.0 a c
                  CkaReferenceTests.near identityTol "|encoding| = 1" 1.0 (dot ex ex)
                  CkaReferenceTests.near identityTol "encoding dot = CKA" (Cka.Score(device, x, y)) (dot ex ey)
                  let single = gx.PackedEncodingSingle() |> Array.map float
                  CkaReferenceTests.near
                      1e-6
                      "float32 encoding dot = CKA (float32 rounding)"
                      (dot ex ey)
                      (dot single (ey)))

          perBackend all "GramAccumulator over chunks = one-shot Gram" (fun b device ->
              let n, widths = if b.Slow then 9, [ 5; 1; 17 ] else 100, [ 700; 1; 33; 1300 ]
              let chunks = [ for w in widths -> random (w + 7) n w ]
              let whole =
                  Array.init (n * List.sum widths) (fun e ->
                      let i, f = e / List.sum widths, e % List.sum widths
                      let rec find (f: int) (cs: Activations list) =
                          match cs with
                          | c :: rest ->
                              if f < c.Features then c.Data.Span.[i * c.Features + f] else find (f - c.Features) rest
                          | [] -> failwith "unreachable"
                      find f chunks)
              use acc = new GramAccumulator(device, n)
              for c in chunks do
                  acc.Add c
              Expect.equal acc.Features (int64 (List.sum widths)) "features counted"
              allNear 0.0 gramRelTol "chunked K" (Gram.Linear(device, Activations.Of(whole, n))) (acc.Result()))

          perBackend all "Matrix = pairwise Score; symmetric for one list" (fun b device ->
              let n = if b.Slow then 8 else 50
              let a = [| for s in 0..2 -> random (10 + s) n (3 + 5 * s) |]
              let c = [| for s in 0..1 -> random (20 + s) n (60 + s) |]
              for name, options in variants do
                  // On the simulator each Score costs two more Gram launches; there the pairs are checked against the
                  // reference, which Score is checked against in "agrees with the reference".
                  let pairwise (u: Activations) (v: Activations) =
                      if b.Slow then referenceCka options u v else Cka.Score(device, u, v, options)
                  let mab = Cka.Matrix(device, a, c, options)
                  Expect.equal (Array2D.length1 mab, Array2D.length2 mab) (3, 2) "shape"
                  for i in 0..2 do
                      for j in 0..1 do
                          CkaReferenceTests.near
                              (if b.Slow then rbfBackendTol else identityTol)
                              (sprintf "%s [%d, %d]" name i j)
                              (pairwise a.[i] c.[j])
                              mab.[i, j]
                  let maa = Cka.Matrix(device, a, a, options)
                  for i in 0..2 do
                      CkaReferenceTests.near identityTol (name + " diagonal") 1.0 maa.[i, i]
                      for j in 0..2 do
                          Expect.equal maa.[i, j] maa.[j, i] (name + " exactly symmetric"))

          perBackend all "FeatureSpace = Gram form = reference feature-space form" (fun b device ->
              for (n, p, q) in (if b.Slow then [ 12, 3, 5 ] else [ 12, 3, 5; 100, 30, 45; 40, 60, 70 ]) do
                  let x, y = random (p + 50) n p, random (q + 60) n q
                  let what = sprintf "n=%d p=%d q=%d" n p q
                  let gram = ReferenceCka.LinearCka(host x, host y, n, p, q)
                  CkaReferenceTests.near identityTol ("FeatureSpace " + what) gram (Cka.FeatureSpace(device, x, y))
                  CkaReferenceTests.near
                      identityTol
                      ("reference feature space " + what)
                      (ReferenceCka.FeatureSpaceLinearCka(host x, host y, n, p, q))
                      (Cka.FeatureSpace(device, x, y))
                  CkaReferenceTests.near identityTol ("Score " + what) gram (Cka.Score(device, x, y)))

          perBackend all "MinibatchCka: one batch = Matrix; several = mean of reference HSICs" (fun b device ->
              let n = if b.Slow then 8 else 40
              let batch (seed: int) (n: int) =
                  [| random seed n 5; random (seed + 1) n 11 |], [| random (seed + 2) n 7 |]
              for name, options in variants do
                  let a0, b0 = batch 100 n
                  let one = MinibatchCka(device, options)
                  one.Add(a0, b0)
                  Expect.equal one.Batches 1 "one batch"
                  let full = Cka.Matrix(device, a0, b0, options)
                  let r = one.Result()
                  for i in 0..1 do
                      CkaReferenceTests.near identityTol (sprintf "%s one batch [%d, 0]" name i) full.[i, 0] r.[i, 0]

                  // Two batches of different sizes against the definition, from the reference's HSIC estimators.
                  let a1, b1 = batch 200 (n + 3)
                  one.Add(a1, b1)
                  let kernel (x: Activations) =
                      if options.Kernel = CkaKernel.Rbf then
                          ReferenceCka.RbfGram(host x, x.Samples, x.Features, options.SigmaFraction)
                      else
                          ReferenceCka.LinearGram(host x, x.Samples, x.Features)
                  let hsic (x: Activations) (y: Activations) =
                      let n = x.Samples
                      if options.Debiased then
                          ReferenceCka.UnbiasedHsic(kernel x, kernel y, n)
                      else
                          ReferenceCka.Hsic(kernel x, kernel y, n) / float ((n - 1) * (n - 1))
                  let both = [ a0, b0; a1, b1 ]
                  let total f = both |> List.sumBy f
                  let two = one.Result()
                  for i in 0..1 do
                      let expected =
                          total (fun (a, c) -> hsic a.[i] c.[0])
                          / sqrt (total (fun (a, _) -> hsic a.[i] a.[i]) * total (fun (_, c) -> hsic c.[0] c.[0]))
                      CkaReferenceTests.near identityTol (sprintf "%s two batches [%d, 0]" name i) expected two.[i, 0]

                  let self = MinibatchCka(device, options)
                  self.Add(a0, a0)
                  let selfResult = self.Result()
                  CkaReferenceTests.near identityTol (name + " self diagonal") 1.0 selfResult.[1, 1]
                  Expect.equal selfResult.[0, 1] selfResult.[1, 0] (name + " self exactly symmetric")) ]

let private badInputTests =
    perBackend all "bad input gives ArgumentException naming the problem" (fun _ device ->
        let n = 6
        let x, y = random 1 n 4, random 2 n 3
        let withValue (v: float32) (at: int) (a: Activations) =
            let data = host a
            data.[at] <- v
            Activations.Of(data, a.Samples)
        let constant = Activations.Of(Array.init (n * 4) (fun e -> float32 (e % 4)), n)

        rejects "x is NaN at row 1, feature 2" (fun () -> Cka.Score(device, withValue nanf 6 x, y))
        rejects "y is -Infinity at row 2, feature 0" (fun () ->
            Cka.Score(device, x, withValue -infinityf 6 y, rbf 0.8))
        rejects "a[1] is +Infinity at row 0, feature 1" (fun () ->
            Cka.Matrix(device, [| x; withValue infinityf 1 x |], [| y |]))
        rejects "x is NaN at row 1, feature 2" (fun () -> Cka.FeatureSpace(device, withValue nanf 6 x, y))
        rejects "x is NaN" (fun () -> Gram.Linear(device, withValue nanf 6 x))
        rejects "but the other activations have 6" (fun () -> Cka.Score(device, x, random 3 7 3))
        rejects "b[0] has 7 samples" (fun () -> Cka.Matrix(device, [| x |], [| random 3 7 3 |]))
        rejects "at least 4 are required" (fun () -> Cka.Score(device, random 4 3 4, random 5 3 2, debiased))
        rejects "at least 2 are required" (fun () -> Cka.Score(device, random 4 1 4, random 5 1 2))
        rejects "x has zero variance" (fun () -> Cka.Score(device, constant, y))
        rejects "x has zero variance" (fun () -> Cka.FeatureSpace(device, constant, y))
        rejects "a[0] has zero variance" (fun () ->
            Cka.Matrix(device, [| constant |], [| y |], CkaOptions(Debiased = true)))
        rejects "variance" (fun () -> Cka.Score(device, constant, y, rbf 0.8))
        rejects "zero variance" (fun () -> Gram.Centre(device, Gram.Linear(device, constant), n).PackedEncoding())
        rejects "SigmaFraction must be positive" (fun () -> Cka.Score(device, x, y, rbf 0.0))
        rejects "sigmaFraction must be positive" (fun () -> Gram.Rbf(device, x, nan))
        rejects "not symmetric" (fun () -> Gram.Centre(device, Array.init (n * n) float, n))
        rejects "empty (default) Activations" (fun () -> Cka.Score(device, Activations(), y))
        rejects "holds no layers" (fun () -> Cka.Matrix(device, [||], [| y |]))

        use acc = new GramAccumulator(device, n)
        Expect.throwsT<InvalidOperationException> (fun () -> acc.Result() |> ignore) "Result before Add"
        acc.Add x
        rejects "featureChunk (chunk 1, features from 4) is NaN at row 0, feature 1" (fun () ->
            acc.Add(withValue nanf 1 y))
        rejects "featureChunk has 7 samples" (fun () -> acc.Add(random 3 7 3))

        let mb = MinibatchCka(device)
        Expect.throwsT<InvalidOperationException> (fun () -> mb.Result() |> ignore) "Result before Add"
        mb.Add([| constant; x |], [| y |])
        rejects "this batch has 1 x 1 layers" (fun () -> mb.Add([| x |], [| y |]))
        rejects "batchA[0] has zero variance over all 1 batches" (fun () -> mb.Result()))

let private constructionTests =
    testList
        "Activations"
        [ test "validated construction" {
              rejects "6 values, but samples x features = 2 x 4" (fun () ->
                  Activations(ReadOnlyMemory(Array.zeroCreate<float32> 6), 2, 4))
              rejects "must both be at least 1" (fun () ->
                  Activations(ReadOnlyMemory(Array.zeroCreate<float32> 0), 0, 4))
              rejects "do not split into 4 rows" (fun () -> Activations.Of(Array.zeroCreate 6, 4))
              let a = Activations.Of(Array.zeroCreate 12, 3)
              Expect.equal (a.Samples, a.Features) (3, 4) "rows and features"
          }
          test "finiteness scan finds the first NaN or infinity" {
              for length in [ 1; 7; 256; 300; 1000 ] do
                  for at in [ 0; length / 2; length - 1 ] do
                      for bad in [ nanf; infinityf; -infinityf ] do
                          let data = Array.create length 1.5f
                          data.[at] <- bad
                          Expect.equal
                              (Activations.FirstNonFinite(ReadOnlySpan data))
                              at
                              (sprintf "length %d, at %d" length at)
                  Expect.equal
                      (Activations.FirstNonFinite(ReadOnlySpan(Array.create length Single.MaxValue)))
                      -1
                      "finite"
          } ]

[<Tests>]
let tests = testList "cka" [ constructionTests; fixtureTests; agreementTests; propertyTests; badInputTests ]
