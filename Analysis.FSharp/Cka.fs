/// Layer similarity for analyses and scripts: CKA between matrices of activations (rows = probe inputs), the
/// layer-by-layer matrix between two models, and the best match of each layer. The kernels are Core.Gpu's.
module Hybrid.Analysis.Cka

open Hybrid.Core.Gpu
open Hybrid.Analysis.TensorInput

/// A matrix of activations as Core.Gpu's float32 layer view (rows = probe inputs).
let activations (m: Matrix) = Activations.Of(m.Single, m.Rows)

/// CKA options from the command line's terms.
let options (kernel: CkaKernel) (sigmaFraction: float) (debiased: bool) =
    CkaOptions(Kernel = kernel, SigmaFraction = sigmaFraction, Debiased = debiased)

/// CKA between two layers observed on the same probe inputs, in the same order.
let score (device: Device) (options: CkaOptions) (x: Matrix) (y: Matrix) =
    if x.Rows <> y.Rows then
        Input.fail "%s has %d rows but %s has %d: both must hold the same probe inputs" x.Source x.Rows y.Source y.Rows
    Input.guard "cka" (fun () -> Hybrid.Core.Gpu.Cka.Score(device, activations x, activations y, options))

/// The CKA of every layer of a with every layer of b (each layer's Gram matrix computed once).
let matrix (device: Device) (options: CkaOptions) (a: Activations list) (b: Activations list) =
    Hybrid.Core.Gpu.Cka.Matrix(device, ResizeArray a, ResizeArray b, options)

/// For each row layer, the column layer most similar to it and their CKA.
let bestMatches (m: float[,]) =
    [ for i in 0 .. Array2D.length1 m - 1 ->
          let j = [ 0 .. Array2D.length2 m - 1 ] |> List.maxBy (fun j -> m[i, j])
          i, j, m[i, j] ]

/// A layer's CKA encoding: the packed upper triangle of its normalised centred linear Gram matrix (n (n + 1) / 2
/// floats), so that the dot product of two encodings is their linear CKA.
let encoding (device: Device) (x: Activations) =
    (Gram.Centre(device, Gram.Linear(device, x), x.Samples)).PackedEncodingSingle()

/// The k stored encodings most similar to each query, best first, among those whose group differs from the query's
/// (so a model's own layers are not returned for it).
let search
    (device: Device)
    (stored: float32[] list)
    (storedGroups: int[])
    (queries: float32[] list)
    (queryGroups: int[])
    (k: int)
    =
    let dimension = stored.Head.Length
    use index =
        EncodingIndex.Build(
            device,
            System.ReadOnlySpan(Array.concat stored),
            stored.Length,
            dimension,
            System.ReadOnlySpan storedGroups
        )
    index.Search(System.ReadOnlySpan(Array.concat queries), queries.Length, k, System.ReadOnlySpan queryGroups)
