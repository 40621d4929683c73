/// The Reference CKA (the specification the Cpu and ILGPU backends will be tested against) against
/// ../shared/fixtures/kernels/cka.* and against the properties CKA must have on small random data.
module Hybrid.Tests.CkaReferenceTests

open System
open Expecto
open FsCheck.FSharp
open Hybrid.Core.Gpu.Reference

// Stated tolerances. Fixture values: 1e-6 absolute (the fixture's inputs are float32, its sums float64).
// Identities between two float64 forms of the same quantity: 1e-12 / 1e-10 absolute. Invariances on random
// float32 data: 1e-5 absolute, since the transformed activations are rounded back to float32.
let private fixtureTol = 1e-6
let private packedTol = 1e-12
let private featureSpaceTol = 1e-10
let private invarianceTol = 1e-5

/// The CKA fixture (../shared/fixtures/kernels/cka.*), shared with CkaTests.
let fixtureFile = lazy (SafetensorsFile.Open(sharedPath "fixtures/kernels/cka.safetensors"))

let expected =
    lazy
        (use doc = readJson (sharedPath "fixtures/kernels/cka.json")
         let root = doc.RootElement
         let value (key: string) = root.GetProperty(key).GetDouble()
         {| N = root.GetProperty("n").GetInt32()
            SigmaFraction = value "rbf_sigma_fraction_of_median_distance"
            LinearXY = value "linear_cka_xy"
            LinearXZ = value "linear_cka_xz"
            LinearYZ = value "linear_cka_yz"
            RbfXY = value "rbf_cka_xy"
            DebiasedXY = value "debiased_linear_cka_xy" |})

/// A fixture activation matrix with its feature count.
let activations (name: string) =
    let shape = fixtureFile.Value.Entry(name).Shape
    fixtureFile.Value.ReadFloat32 name, int shape.[1]

let near (tol: float) (what: string) (expected: float) (actual: float) =
    if not (abs (actual - expected) <= tol) then
        failtestf "%s: got %.17g, expected %.17g (tolerance %g abs)" what actual expected tol

let private linearFixture (a: string) (b: string) =
    let (x, p), (y, q) = activations a, activations b
    ReferenceCka.LinearCka(x, y, expected.Value.N, p, q)

let private fixtureTests =
    testList
        "fixture"
        [ test "linear_cka_xy" { near fixtureTol "linear CKA(X, Y)" expected.Value.LinearXY (linearFixture "X" "Y") }
          test "linear_cka_xz" { near fixtureTol "linear CKA(X, Z)" expected.Value.LinearXZ (linearFixture "X" "Z") }
          test "linear_cka_yz" { near fixtureTol "linear CKA(Y, Z)" expected.Value.LinearYZ (linearFixture "Y" "Z") }

          test "rbf_cka_xy" {
              let (x, p), (y, q) = activations "X", activations "Y"
              let cka = ReferenceCka.RbfCka(x, y, expected.Value.N, p, q, expected.Value.SigmaFraction)
              near fixtureTol "RBF CKA(X, Y)" expected.Value.RbfXY cka
          }

          test "debiased_linear_cka_xy (Song et al. 2012, 1/(n(n-3)) normalisation)" {
              let (x, p), (y, q) = activations "X", activations "Y"
              let n = expected.Value.N
              let kx, ky = ReferenceCka.LinearGram(x, n, p), ReferenceCka.LinearGram(y, n, q)
              near fixtureTol "debiased CKA(X, Y)" expected.Value.DebiasedXY (ReferenceCka.Cka(kx, ky, n, true))
              near
                  packedTol
                  "debiased CKA symmetric"
                  (ReferenceCka.Cka(kx, ky, n, true))
                  (ReferenceCka.Cka(ky, kx, n, true))
              near packedTol "debiased CKA(X, X)" 1.0 (ReferenceCka.Cka(kx, kx, n, true))
          }

          test "Centre(LinearGram X) / ||.||_F matches hkh_x_normalized" {
              let x, p = activations "X"
              let n = expected.Value.N
              let hkh = ReferenceCka.Centre(ReferenceCka.LinearGram(x, n, p), n)
              let norm = sqrt (Array.sumBy (fun v -> v * v) hkh)
              let actual = hkh |> Array.map (fun v -> float32 (v / norm))
              closeTo fixtureTol 0.0 "HKH / ||HKH||_F" (fixtureFile.Value.ReadFloat32 "hkh_x_normalized") actual
          }

          test "packed encodings: dot product equals linear CKA" {
              let (x, p), (y, q) = activations "X", activations "Y"
              let n = expected.Value.N
              let kx, ky = ReferenceCka.LinearGram(x, n, p), ReferenceCka.LinearGram(y, n, q)
              let ex, ey = ReferenceCka.PackedEncoding(kx, n), ReferenceCka.PackedEncoding(ky, n)
              Expect.equal ex.Length (n * (n + 1) / 2) "packed length n(n+1)/2"
              near packedTol "|encoding X|" 1.0 (Array.fold2 (fun s a b -> s + a * b) 0.0 ex ex)
              near
                  packedTol
                  "encoding X . encoding Y"
                  (ReferenceCka.Cka(kx, ky, n, false))
                  (Array.fold2 (fun s a b -> s + a * b) 0.0 ex ey)
          }

          test "feature-space form equals the Gram form" {
              let (x, p), (y, q) = activations "X", activations "Y"
              let n = expected.Value.N
              near
                  featureSpaceTol
                  "feature-space CKA(X, Y)"
                  (ReferenceCka.LinearCka(x, y, n, p, q))
                  (ReferenceCka.FeatureSpaceLinearCka(x, y, n, p, q))
          } ]

/// Small random activation pairs: n examples, p and q features, and a seed for the values.
type Case = { N: int; P: int; Q: int; Seed: int }

let private caseGen (minN: int) =
    gen {
        let! n = Gen.choose (minN, 12)
        let! p = Gen.choose (1, 6)
        let! q = Gen.choose (1, 6)
        let! seed = Gen.choose (0, Int32.MaxValue)
        return { N = n; P = p; Q = q; Seed = seed }
    }

let private data (case: Case) =
    let rng = Random case.Seed
    randomNormal rng (case.N * case.P), randomNormal rng (case.N * case.Q), rng

/// A random p x p orthogonal matrix: Gram-Schmidt on the columns of a standard-normal matrix.
let orthogonal (rng: Random) (p: int) =
    let columns = Array.init p (fun _ -> randomNormal rng p |> Array.map float)
    let dot (a: float[]) (b: float[]) = Array.fold2 (fun s u v -> s + u * v) 0.0 a b
    let basis = ResizeArray<float[]>()
    for c in columns do
        let v = Array.copy c
        for e in basis do
            let projection = dot v e
            for i in 0 .. p - 1 do
                v.[i] <- v.[i] - projection * e.[i]
        let norm = sqrt (dot v v)
        basis.Add(v |> Array.map (fun u -> u / norm))
    Array2D.init p p (fun row col -> basis.[col].[row])

/// x (n x p) times q (p x p), rounded back to float32 like real activations.
let rotate (x: float32[]) (n: int) (p: int) (q: float[,]) =
    Array.init (n * p) (fun e ->
        let i, j = e / p, e % p
        float32 (Seq.sum (seq { for f in 0 .. p - 1 -> float x.[i * p + f] * q.[f, j] })))

let private rbfFraction = 0.8

// The linear and RBF CKA of one pair, so each property is checked on both kernels.
let private both (x: float32[]) (y: float32[]) (n: int) (p: int) (q: int) =
    [ "linear", ReferenceCka.LinearCka(x, y, n, p, q); "rbf", ReferenceCka.RbfCka(x, y, n, p, q, rbfFraction) ]

let private property (name: string) (minN: int) (check: Case -> bool) =
    testPropertyWithConfig
        { FsCheckConfig.defaultConfig with maxTest = 30 }
        name
        (Prop.forAll (Arb.fromGen (caseGen minN)) check)

let private within (tol: float) (a: float) (b: float) = abs (a - b) <= tol

// Kornblith et al.'s unbiased centring, an independent statement of Song et al.'s estimator: the inner product
// of the two matrices it returns, divided by n(n-3), is the unbiased HSIC.
let private unbiasedCentre (k: float[]) (n: int) =
    let z = Array.init (n * n) (fun e -> if e / n = e % n then 0.0 else k.[e])
    let means = Array.init n (fun j -> (Seq.sum (seq { for i in 0 .. n - 1 -> z.[i * n + j] })) / float (n - 2))
    let shift = Array.sum means / (2.0 * float (n - 1))
    Array.init (n * n) (fun e ->
        let i, j = e / n, e % n
        if i = j then 0.0 else z.[e] - (means.[i] - shift) - (means.[j] - shift))

let private propertyTests =
    testList
        "properties"
        [ property "CKA is symmetric" 2 (fun case ->
              let x, y, _ = data case
              List.forall2
                  (fun (_, xy) (_, yx) -> within 1e-12 xy yx)
                  (both x y case.N case.P case.Q)
                  (both y x case.N case.Q case.P))

          property "CKA(X, X) = 1" 2 (fun case ->
              let x, _, _ = data case
              both x x case.N case.P case.P |> List.forall (fun (_, c) -> within 1e-12 1.0 c))

          property "invariant to an orthogonal transform of X's features" 2 (fun case ->
              let x, y, rng = data case
              let rotated = rotate x case.N case.P (orthogonal rng case.P)
              List.forall2
                  (fun (_, a) (_, b) -> within invarianceTol a b)
                  (both x y case.N case.P case.Q)
                  (both rotated y case.N case.P case.Q))

          property "invariant to isotropic scaling of X" 2 (fun case ->
              let x, y, rng = data case
              let scale = [| 1e-3f; 0.5f; 7.0f; 1e3f |].[rng.Next 4]
              List.forall2
                  (fun (_, a) (_, b) -> within invarianceTol a b)
                  (both x y case.N case.P case.Q)
                  (both (x |> Array.map (fun v -> v * scale)) y case.N case.P case.Q))

          property "feature-space form and packed encodings equal the Gram form" 2 (fun case ->
              let x, y, _ = data case
              let n = case.N
              let kx, ky = ReferenceCka.LinearGram(x, n, case.P), ReferenceCka.LinearGram(y, n, case.Q)
              let gram = ReferenceCka.Cka(kx, ky, n, false)
              let packed =
                  Array.fold2
                      (fun s a b -> s + a * b)
                      0.0
                      (ReferenceCka.PackedEncoding(kx, n))
                      (ReferenceCka.PackedEncoding(ky, n))
              within featureSpaceTol gram (ReferenceCka.FeatureSpaceLinearCka(x, y, n, case.P, case.Q))
              && within packedTol gram packed)

          property "UnbiasedHsic equals Kornblith's unbiased-centring form" 4 (fun case ->
              let x, y, _ = data case
              let n = case.N
              let kx, ky = ReferenceCka.LinearGram(x, n, case.P), ReferenceCka.RbfGram(y, n, case.Q, rbfFraction)
              let viaCentring =
                  Array.fold2 (fun s a b -> s + a * b) 0.0 (unbiasedCentre kx n) (unbiasedCentre ky n)
                  / float (n * (n - 3))
              let direct = ReferenceCka.UnbiasedHsic(kx, ky, n)
              abs (direct - viaCentring) <= 1e-10 * (1.0 + abs viaCentring)) ]

/// Every bad input is refused with an ArgumentException whose message names the problem.
type Fault =
    | NaNInX
    | InfinityInY
    | ShortX
    | GramSizesDiffer
    | OneExample
    | DebiasedTooFew
    | ConstantX
    | NonPositiveSigma

let private throwsNaming (needle: string) (action: unit -> obj) =
    try
        action () |> ignore
        false
    with :? ArgumentException as e ->
        e.Message.Contains(needle, StringComparison.OrdinalIgnoreCase)

let private rejects (fault: Fault) (case: Case) =
    let x, y, rng = data case
    let n, p, q = case.N, case.P, case.Q
    let at (length: int) = rng.Next length
    match fault with
    | NaNInX ->
        x.[at x.Length] <- nanf
        throwsNaming "NaN" (fun () -> ReferenceCka.LinearCka(x, y, n, p, q))
    | InfinityInY ->
        y.[at y.Length] <- -infinityf
        throwsNaming "Infinity" (fun () -> ReferenceCka.RbfCka(x, y, n, p, q, rbfFraction))
    | ShortX -> throwsNaming "elements" (fun () -> ReferenceCka.FeatureSpaceLinearCka(x.[1..], y, n, p, q))
    | GramSizesDiffer ->
        let l = ReferenceCka.LinearGram(Array.append y y, 2 * n, q)
        throwsNaming "n x n" (fun () -> ReferenceCka.Cka(ReferenceCka.LinearGram(x, n, p), l, n, false))
    | OneExample -> throwsNaming "n = 1" (fun () -> ReferenceCka.LinearCka(x.[.. p - 1], y.[.. q - 1], 1, p, q))
    | DebiasedTooFew ->
        let small = 2 + rng.Next 2
        let k = ReferenceCka.LinearGram(x.[.. small * p - 1], small, p)
        throwsNaming (sprintf "n = %d" small) (fun () -> ReferenceCka.Cka(k, k, small, true))
        && throwsNaming (sprintf "n = %d" small) (fun () -> ReferenceCka.UnbiasedHsic(k, k, small))
    | ConstantX ->
        let row = x.[.. p - 1]
        let constant = Array.init (n * p) (fun e -> row.[e % p])
        let k = ReferenceCka.LinearGram(constant, n, p)
        throwsNaming "zero variance" (fun () -> ReferenceCka.LinearCka(constant, y, n, p, q))
        && throwsNaming "zero variance" (fun () -> ReferenceCka.FeatureSpaceLinearCka(constant, y, n, p, q))
        && throwsNaming "zero variance" (fun () -> ReferenceCka.PackedEncoding(k, n))
        && throwsNaming "variance" (fun () -> ReferenceCka.RbfCka(constant, y, n, p, q, rbfFraction))
    | NonPositiveSigma -> throwsNaming "sigmaFraction" (fun () -> ReferenceCka.RbfGram(x, n, p, 0.0))

let private badInputTests =
    testList
        "bad inputs give ArgumentException"
        [ for fault in
              [ NaNInX; InfinityInY; ShortX; GramSizesDiffer; OneExample; DebiasedTooFew; ConstantX; NonPositiveSigma ] ->
              property (sprintf "%A" fault) 4 (rejects fault) ]

[<Tests>]
let tests = testList "cka reference" [ fixtureTests; propertyTests; badInputTests ]
