// A first experiment with Core.Gpu: a SeaM-style masked convolution on every backend, its gradients, and the sparse
// forward of the surviving weights. Run `./hybrid --version` once (it builds), then `dotnet fsi scripts/kernels_tour.fsx`.
#load "load.fsx"

open System
open Hybrid.Core.Gpu

let shape = Conv2dShape.Square(batch = 8, inChannels = 16, size = 32, outChannels = 16, k = 3, p = 1)
let rng = Random 1
let normal n = Array.init n (fun _ -> float32 (rng.NextDouble() * 2.0 - 1.0))
let x, w, scores, gradOut =
    normal shape.InputLength, normal shape.WeightLength, normal shape.WeightLength, normal shape.OutputLength

for device in [ Device.Reference; Device.Cpu; Device.Gpu() ] do
    let up (a: float32[]) = device.Upload<float32>(ReadOnlySpan a)
    let layer = LayerParameters(up w, WeightScores = up scores)
    let y = device.Allocate<float32> shape.OutputLength
    let gradScores = device.Allocate<float32> shape.WeightLength
    Conv2d.Forward(shape, layer, up x, y)
    Conv2d.Backward(
        shape,
        layer,
        up x,
        up gradOut,
        LayerGradients(WeightScores = gradScores, MaskRule = MaskGradient.ClippedStraightThrough)
    )
    use csr = CsrWeights.FromMasked(layer, shape.OutChannels, shape.FilterLength)
    let ySparse = device.Allocate<float32> shape.OutputLength
    Sparse.Conv2dForward(shape, csr, null, up x, ySparse)
    let gap = Array.map2 (fun a b -> abs (a - b)) (y.ToArray()) (ySparse.ToArray()) |> Array.max
    printfn
        "%-32s y[0] = %9.5f  dL/ds[0] = %8.5f  kept %.1f%%  |dense - sparse| <= %g"
        device.Name
        (y.ToArray().[0])
        (gradScores.ToArray().[0])
        (100.0 * csr.Density)
        gap
