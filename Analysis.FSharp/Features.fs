/// Feature matrices made from images, for analyses that need representations before a trained network is at hand:
/// average-pooled pixels, and the layers of random ReLU networks (a standard control in representation-similarity
/// work: depth alone shapes what such layers keep of the input).
module Hybrid.Analysis.Features

open System
open Hybrid.Core.Gpu
open Hybrid.Core.Nn.Data
open Hybrid.Analysis.TensorInput

/// The first `count` images of a set as a matrix (one flattened image per row), in float64.
let pixels (images: LabelledImages) (count: int) =
    let count = min count images.Count
    { Source = "pixels"
      Rows = count
      Columns = images.ImageSize
      Values = Array.init (count * images.ImageSize) (fun e -> float images.Images[e]) }

/// Each channel averaged over non-overlapping factor x factor windows (the edge windows that do not fit are dropped).
let averagePool (factor: int) (images: LabelledImages) (count: int) =
    if factor < 1 then
        invalidArg (nameof factor) $"pooling factor {factor} must be at least 1"
    let count = min count images.Count
    let h, w = images.Height / factor, images.Width / factor
    let columns = images.Channels * h * w
    let values = Array.zeroCreate (count * columns)
    for i in 0 .. count - 1 do
        for c in 0 .. images.Channels - 1 do
            for y in 0 .. h - 1 do
                for x in 0 .. w - 1 do
                    let mutable sum = 0.0
                    for dy in 0 .. factor - 1 do
                        for dx in 0 .. factor - 1 do
                            sum <-
                                sum
                                + float
                                    images.Images[((i * images.Channels + c) * images.Height + y * factor + dy)
                                                  * images.Width
                                                  + x * factor
                                                  + dx]
                    values[i * columns + (c * h + y) * w + x] <- sum / float (factor * factor)
    { Source = $"pixels pooled {factor}x{factor}"; Rows = count; Columns = columns; Values = values }

/// Each column shifted to mean 0 and scaled to variance 1 (a constant column is only shifted), the usual input
/// normalisation: without it, the large common mean of pixel values dominates every layer built on them.
let standardise (m: Matrix) =
    let values = Array.copy m.Values
    for c in 0 .. m.Columns - 1 do
        let mutable sum = 0.0
        for r in 0 .. m.Rows - 1 do
            sum <- sum + values[r * m.Columns + c]
        let mean = sum / float m.Rows
        let mutable squares = 0.0
        for r in 0 .. m.Rows - 1 do
            squares <- squares + (values[r * m.Columns + c] - mean) ** 2.0
        let std = sqrt (squares / float m.Rows)
        let scale = if std > 0.0 then 1.0 / std else 1.0
        for r in 0 .. m.Rows - 1 do
            values[r * m.Columns + c] <- (values[r * m.Columns + c] - mean) * scale
    { m with Source = $"{m.Source}, standardised"; Values = values }

/// The activations of every layer of a random fully connected ReLU network applied to the rows of input: layer l is
/// relu(h_{l-1} W_l) with W_l drawn N(0, 2 / fan_in) (He initialisation, so activations neither vanish nor explode)
/// from the seed. Returns one float32 row-major matrix (rows = input rows) per width.
let randomReluLayers (device: Device) (seed: int) (widths: int list) (input: Matrix) =
    let random = Random seed
    let normal scale n = Array.init n (fun _ -> float32 (scale * BoxMuller.Next random))
    let n = input.Rows
    let rec layers (h: float32[]) (fanIn: int) (widths: int list) =
        match widths with
        | [] -> []
        | width :: rest ->
            use x = device.Upload<float32>(ReadOnlySpan h)
            use weight = device.Upload<float32>(ReadOnlySpan(normal (sqrt (2.0 / float fanIn)) (fanIn * width)))
            use y = device.Allocate<float32>(n * width)
            Blas.Sgemm(Transpose.No, Transpose.No, n, width, fanIn, 1.0f, x, weight, 0.0f, y)
            let out = y.ToArray() |> Array.map (fun v -> max v 0.0f)
            out :: layers out width rest
    layers input.Single input.Columns widths
