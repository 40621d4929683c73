/// Core.Nn's sparse-input linear layer (Functional.SparseLinear on SparseRows, and DaraMlp's sparse forward): output,
/// weight and bias gradients against the dense Linear on the same data and against PyTorch's F.linear
/// (../shared/fixtures/kernels/masked_layers.*, its linear cases with the effective weight), and bad input.
module Hybrid.Tests.NnSparseInputTests

open Expecto
open Hybrid.Core.Gpu.Cpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Zoo

type private F = Functional

/// float32 sums of at most a few hundred O(1) terms, in another order than the dense GEMM's.
let private absTol, relTol = 1e-5, 1e-4

/// Seeded rows of `columns` values with about `density` of them nonzero (one row left empty, one column repeated in
/// a row: both must count as they do densified).
let private sparseRows (seed: int) (rows: int) (columns: int) (density: float) =
    let g = Generator(int64 seed)
    let row r =
        let picked =
            [| for c in 0 .. columns - 1 do
                   if r <> 1 && g.NextDouble() < density then
                       c |]
        let indices = if r = 2 && picked.Length > 0 then Array.append picked [| picked[0] |] else picked
        struct (indices, indices |> Array.map (fun _ -> float32 (g.NextNormal())))
    SparseRows.FromRows(columns, Array.init rows row)

let private leaf (seed: int) (shape: int[]) =
    let g = Generator(int64 seed)
    let t = Tensor.Wrap(Array.init (Array.fold (*) 1 shape) (fun _ -> float32 (g.NextNormal())), shape)
    t.RequiresGrad <- true
    t

let private values (t: Tensor) = t.ToArray<float32>()

/// Output and parameter gradients of y = layer(w, b) under the upstream gradient dy (loss = sum(y * dy)).
let private run (layer: Tensor -> Tensor -> Tensor) (w: Tensor) (b: Tensor) (dy: Tensor) =
    w.Grad <- null
    b.Grad <- null
    let y = layer w b
    Autograd.Backward(y, dy)
    values y, values w.Grad, values b.Grad

let private againstDense (rows: int) (inFeatures: int) (outFeatures: int) (density: float) =
    let x = sparseRows 1 rows inFeatures density
    let w, b, dy = leaf 2 [| outFeatures; inFeatures |], leaf 3 [| outFeatures |], leaf 4 [| rows; outFeatures |]
    let dense = run (fun w b -> F.Linear(x.ToDense(), w, b)) w b dy
    let sparse = run (fun w b -> F.SparseLinear(x, w, b)) w b dy
    let (y, gw, gb), (y', gw', gb') = dense, sparse
    closeTo absTol relTol "y" y y'
    closeTo absTol relTol "grad w" gw gw'
    closeTo absTol relTol "grad b" gb gb'

/// SparseLinear's output and gradients by the plain loops: y row by row from the bias, dW^T and db row after row, one
/// vector multiply-add (each product rounded, then added) per nonzero, in the rows' order.
let private plainLoops (x: SparseRows) (wv: float32[]) (bv: float32[]) (dyv: float32[]) =
    let rows, inFeatures, outFeatures = x.Rows, x.Columns, bv.Length
    let wt = Array.init (inFeatures * outFeatures) (fun i -> wv[(i % outFeatures) * inFeatures + i / outFeatures])
    let y' = Array.zeroCreate<float32>(rows * outFeatures)
    let gwt = Array.zeroCreate<float32>(inFeatures * outFeatures)
    let gb' = Array.zeroCreate<float32> outFeatures
    for r in 0 .. rows - 1 do
        let yr = System.Span<float32>(y', r * outFeatures, outFeatures)
        System.ReadOnlySpan<float32>(bv).CopyTo yr
        let dyr = System.ReadOnlySpan<float32>(dyv, r * outFeatures, outFeatures)
        System.Numerics.Tensors.TensorPrimitives.Add(System.ReadOnlySpan gb', dyr, System.Span gb')
        for j in x.RowStart[r] .. x.RowStart[r + 1] - 1 do
            let k, v = x.Indices[j], x.Values[j]
            let wk = System.ReadOnlySpan<float32>(wt, k * outFeatures, outFeatures)
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(
                wk,
                v,
                System.ReadOnlySpan<float32>(y', r * outFeatures, outFeatures),
                yr
            )
            let gk = System.Span<float32>(gwt, k * outFeatures, outFeatures)
            System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(
                dyr,
                v,
                System.ReadOnlySpan<float32>(gwt, k * outFeatures, outFeatures),
                gk
            )
    let gw' = Array.init (outFeatures * inFeatures) (fun i -> gwt[(i % inFeatures) * outFeatures + i / inFeatures])
    y', gw', gb'

let private fixture = lazy (SafetensorsFile.Open(sharedFile "fixtures/kernels/masked_layers.safetensors"))

[<Tests>]
let tests =
    testList
        "sparse input linear"
        [ test "equals the dense Linear on the densified batch: output, weight and bias gradients" {
              againstDense 37 300 50 0.03
              againstDense 256 1000 64 0.01
          }
          test "equals PyTorch's F.linear on the fixture's linear cases (effective weight, upstream gradient)" {
              for case in [ "linear_a"; "linear_b" ] do
                  let t name = fixture.Value.ReadFloat32(case + "." + name)
                  let dims name = fixture.Value.Entry(case + "." + name).Shape |> Array.map int
                  let xs, ws = dims "x", dims "w"
                  let x =
                      SparseRows.FromRows(
                          xs[1],
                          Array.init xs[0] (fun r ->
                              struct (Array.init xs[1] id, (t "x")[r * xs[1] .. (r + 1) * xs[1] - 1]))
                      )
                  let weff = Array.map2 (fun w s -> if s > 0.0f then w else 0.0f) (t "w") (t "s")
                  let w = Tensor.Wrap(weff, ws)
                  w.RequiresGrad <- true
                  let hasBias = fixture.Value.Contains(case + ".b")
                  let b =
                      if hasBias then
                          let b = Tensor.Wrap(t "b", dims "b")
                          b.RequiresGrad <- true
                          b
                      else
                          null
                  let y = F.SparseLinear(x, w, b)
                  Autograd.Backward(y, Tensor.Wrap(t "grad_out", dims "grad_out"))
                  // The fixture's own tolerance: a float64 reference, float32 sums over at most 300 O(1) terms.
                  closeTo 1e-4 1e-4 $"{case} y" (t "y") (values y)
                  closeTo 1e-4 1e-4 $"{case} grad w" (t "grad_weff") (values w.Grad)
                  if hasBias then
                      closeTo 1e-4 1e-4 $"{case} grad b" (t "grad_b") (values b.Grad)
          }
          test "bit for bit the plain loops: y row by row, dW^T and db row after row, each product rounded then added" {
              // The register blocks of 64 columns and the column-ordered weight gradient must keep the order and the
              // rounding of one vector multiply-add per nonzero (widths below, at and above a block, with a tail).
              for outFeatures in [ 50; 64; 200 ] do
                  let rows, inFeatures = 37, 300
                  let x = sparseRows 11 rows inFeatures 0.05
                  let w, b, dy =
                      leaf 12 [| outFeatures; inFeatures |], leaf 13 [| outFeatures |], leaf 14 [| rows; outFeatures |]
                  let y, gw, gb = run (fun w b -> F.SparseLinear(x, w, b)) w b dy
                  let y', gw', gb' = plainLoops x (values w) (values b) (values dy)
                  Expect.equal y y' $"y ({outFeatures} outputs)"
                  Expect.equal gw gw' $"grad w ({outFeatures} outputs)"
                  Expect.equal gb gb' $"grad b ({outFeatures} outputs)"
          }
          test "Transposition.Transpose moves every element, whole blocks and ragged edges" {
              for rows, cols in [ 1, 1; 7, 9; 8, 8; 16, 8; 23, 37; 64, 50; 300, 64 ] do
                  let source = Array.init (rows * cols) float32
                  let result = Transposition.Transpose(source, rows, cols, Array.create (rows * cols + 3) -1.0f)
                  let expected = Array.init (rows * cols) (fun i -> source[(i % rows) * cols + i / rows])
                  Expect.equal result[.. rows * cols - 1] expected $"({rows}, {cols})"
                  Expect.equal
                      result[rows * cols ..]
                      [| -1.0f; -1.0f; -1.0f |]
                      $"({rows}, {cols}): nothing past the end"
          }
          test "DaraMlp's sparse forward and embedding equal its dense ones" {
              let x = sparseRows 5 20 400 0.05
              let model = DaraMlp(400, 6, Generator(7L), [| 64; 32; 16 |])
              use _ = Autograd.NoGrad()
              use _ = model.Eval()
              closeTo absTol relTol "logits" (values (model.Call(x.ToDense()))) (values (model.Forward x))
              closeTo absTol relTol "embedding" (values (model.Embed(x.ToDense()))) (values (model.Embed x))
          }
          test "bad input: inconsistent rows, a column out of range, a weight of the wrong width" {
              rejects "row starts" (fun () -> SparseRows(4, [| 0; 2 |], [| 1 |], [| 1.0f |]))
              rejects "column 4" (fun () -> SparseRows(4, [| 0; 1 |], [| 4 |], [| 1.0f |]))
              rejects "ends before it starts" (fun () -> SparseRows(4, [| 0; 2; 1; 2 |], [| 0; 1 |], [| 1.0f; 2.0f |]))
              rejects "weight must be float32 (out, 4)" (fun () ->
                  F.SparseLinear(SparseRows(4, [| 0; 1 |], [| 3 |], [| 1.0f |]), leaf 1 [| 2; 5 |]))
          } ]
