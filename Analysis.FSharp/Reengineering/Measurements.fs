/// What re-engineering gained, measured side by side: accuracy of the original on the target problem scored SeaM's way
/// and fairly, weights kept per layer, dense and sparse multiplications, and dense and sparse inference time with our
/// own kernels.
module Hybrid.Analysis.Reengineering.Measurements

open System
open System.Diagnostics
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Data
open Hybrid.Core.Nn.Modules
open Hybrid.Analysis
open Hybrid.Analysis.Reengineering.TargetProblem
open Hybrid.Analysis.Reengineering.MaskedModel

/// The original model's accuracy on the target problem's images, whose original labels are `labels`. SeaM's scoring
/// takes the argmax over all the original's classes (binary: right when it picks a target class exactly for target
/// images); the fair one takes the argmax over the target problem's classes only (for a binary problem the two agree).
let originalAccuracy
    (device: Hybrid.Core.Gpu.Device)
    (model: Module)
    (data: LabelledImages)
    (labels: int64[])
    (target: Target)
    mean
    std
    =
    let options = Networks.inOrder 256 mean std
    let mutable seam, fair = 0, 0
    use _ = model.Eval()
    use _ = Autograd.NoGrad()
    for batch in DataLoader(data, options).Epoch 0 do
        let logits = model.Call(Networks.batchTensor device batch)
        let c = logits.Size 1
        let values = logits.Span<float32>().ToArray()
        let argmaxOver (row: int) (classes: int seq) = classes |> Seq.maxBy (fun j -> values.[row * c + j])
        for i in 0 .. batch.Count - 1 do
            let truth = labels.[batch.Indices.[i]]
            let all = argmaxOver i (seq { 0 .. c - 1 }) |> int64
            match target with
            | Binary ts ->
                let inTarget (label: int64) = List.contains (int label) ts
                if inTarget all = inTarget truth then
                    seam <- seam + 1
                    fair <- fair + 1
            | Classes cs ->
                if all = truth then
                    seam <- seam + 1
                if argmaxOver i cs |> int64 = truth then
                    fair <- fair + 1
    float seam / float data.Count, float fair / float data.Count

/// One masked layer as the report lists it.
type LayerKept =
    {
        Path: string
        Type: string
        Weights: int64
        Kept: int64
        /// Multiplications for one input, dense and with only the kept weights.
        DenseFlops: int64
        SparseFlops: int64
    }

/// Weights kept and multiplications per layer (`nnz(W) * H_out * W_out` per convolution, `nnz(W)` per linear, as
/// SeaM counts them), from one forward pass of a single input of `inputShape` (C, H, W).
let layers (net: ReengineeredNet) (inputShape: int[]) =
    let outputs = Collections.Generic.Dictionary<MaskableLayer, int[]>(HashIdentity.Reference)
    let hooks =
        net.Layers
        |> List.map (fun (_, l) -> l.RegisterForwardHook(fun m _ y -> outputs.[m :?> MaskableLayer] <- y.Shape))
    do
        use _ = net.Eval()
        use _ = Autograd.NoGrad()
        net.Call(Tensor.Zeros(Array.append [| 1 |] inputShape)) |> ignore
    for h in hooks do
        h.Dispose()
    net.Layers
    |> List.map (fun (path, l) ->
        let weights = layerWeights l
        let nnz = l.EffectiveWeight() |> Array.sumBy (fun v -> if v <> 0.0f then 1L else 0L)
        let positions =
            match l with
            | :? Conv2d -> let s = outputs.[l] in int64 s.[2] * int64 s.[3]
            | _ -> let s = outputs.[l] in int64 (Array.reduce (*) s.[.. s.Length - 2])
        { Path = path
          Type = l.TypeName
          Weights = weights
          Kept = l.KeptCount()
          DenseFlops = int64 l.Weight.Numel * positions
          SparseFlops = nnz * positions })

/// The median of a few timed runs of `run` after one warm-up, in seconds: at least 5 runs and at least half a second.
let medianSeconds (run: unit -> unit) =
    run ()
    let times = ResizeArray<float>()
    let total = Stopwatch.StartNew()
    while times.Count < 5 || total.Elapsed.TotalSeconds < 0.5 && times.Count < 200 do
        let clock = Stopwatch.StartNew()
        run ()
        times.Add clock.Elapsed.TotalSeconds
    let sorted = times |> Seq.sort |> Array.ofSeq
    sorted.[sorted.Length / 2]

/// Inference time of `net` on a seeded random batch of `batch` inputs of `inputShape`, dense and then with every
/// masked layer of the original on its compressed weights (Core.Gpu's sparse kernels).
let inferenceSeconds (device: Hybrid.Core.Gpu.Device) (net: ReengineeredNet) (inputShape: int[]) (batch: int) =
    let shape = Array.append [| batch |] inputShape
    let x = Generator(17L).Uniform(0.0, 1.0, ScalarType.Float32, shape).To device
    let forward () =
        use _ = net.Eval()
        use _ = Autograd.NoGrad()
        net.Call x |> ignore
    let dense = medianSeconds forward
    SparseInference.Enable(net, x) |> ignore
    let sparse = medianSeconds forward
    SparseInference.Disable net
    dense, sparse
