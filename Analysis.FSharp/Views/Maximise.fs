/// Activation maximisation: the input that a channel or a class responds to most, found by gradient ascent on the input
/// with the regularisers of Yosinski et al. 2015 ("Understanding Neural Networks Through Deep Visualization": L2 decay,
/// periodic Gaussian blur) and Olah et al. 2017 ("Feature Visualization": random jitter), seeded and reproducible.
module Hybrid.Analysis.Maximise

open System
open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Modules

/// What to maximise: the mean over positions of one channel of a module's output (a module giving (N, F) outputs: one
/// feature), or the logit (pre-softmax score) of one class. Logits rather than probabilities, as Simonyan et al. 2014
/// and Yosinski et al. argue: a probability also rises by pushing the other classes down.
type Target =
    | Channel of layer: string * channel: int
    | Class of index: int

    member t.Name =
        match t with
        | Channel(layer, c) -> $"{layer} channel {c}"
        | Class c -> $"class {c}"

/// The regularised ascent. Values are in normalised input units ((x - mean) / std), where 0 is the dataset's mean colour.
type Settings =
    {
        Steps: int
        /// How far the average pixel moves per step: the gradient is divided by its mean absolute value first, so the
        /// step does not depend on the scale of the target's activations.
        StepSize: float
        /// Each step multiplies the image by (1 - L2Decay), pulling towards the mean colour what no gradient supports.
        L2Decay: float
        /// Each step evaluates the gradient on the image shifted by up to Jitter pixels (at random, wrapping around).
        Jitter: int
        /// Every BlurEvery steps the image is blurred with a Gaussian of BlurSigma pixels (0: never).
        BlurEvery: int
        BlurSigma: float
        /// The start: mid-grey plus Gaussian noise of this standard deviation in pixel units ([0, 1]).
        NoiseStd: float
        Seed: int
    }

/// The defaults, for 32 x 32 inputs such as CIFAR's. Yosinski et al. found blur every 4 steps the most useful single
/// regulariser (their width 1 px on 227 px inputs; 0.5 px here on inputs 7 times smaller, so edges survive); Olah et
/// al. jitter by 8-16 px on 224 px inputs, 4-7 % of the side, which is 2 px at 32 px; a decay of 0.01 per step halves
/// an unsupported pattern in about 70 steps, so high-frequency noise fades within the 128 steps while what the target
/// keeps asking for stays; steps of 0.05 normalised units (about 1 % of the pixel range) reach the range's bounds within
/// those steps.
let defaults =
    { Steps = 128
      StepSize = 0.05
      L2Decay = 0.01
      Jitter = 2
      BlurEvery = 4
      BlurSigma = 0.5
      NoiseStd = 0.1
      Seed = 0 }

/// Refuses settings that cannot run.
let check (s: Settings) =
    if s.Steps < 0 then
        Input.fail "--steps: %d is negative" s.Steps
    if not (s.StepSize > 0.0) || not (s.L2Decay >= 0.0 && s.L2Decay < 1.0) || s.Jitter < 0 || s.BlurSigma < 0.0 then
        Input.fail "maximise: step size > 0, 0 <= L2 decay < 1, jitter >= 0 and blur sigma >= 0 are needed"

let private toDoubles (t: Tensor) =
    if t.Dtype = ScalarType.Float64 then t.ToArray<float>() else t.ToArray<float32>() |> Array.map float

/// The value of each image's target (image b of x, shape (B, C, H, W), has targets[b]) and the gradient of their sum
/// with respect to x, by one forward and one backward pass of model in evaluation mode. The model's parameters take no
/// gradient (they are switched off for the pass and restored). Works in float32 and float64 alike.
let objective (model: Module) (targets: Target list) (x: Tensor) =
    if targets.Length <> x.Size 0 then
        invalidArg "targets" $"{targets.Length} targets for a batch of {x.Size 0}"
    let input = x.Detach()
    input.RequiresGrad <- true
    let layers =
        targets
        |> List.choose (function
            | Channel(layer, _) -> Some layer
            | Class _ -> None)
        |> List.distinct
    let outputs = Collections.Generic.Dictionary<string, Tensor>()
    let hooks =
        [ for layer in layers ->
              (ActivationMaps.findModule model layer)
                  .RegisterForwardHook(fun _ _ y -> outputs.TryAdd(layer, y) |> ignore) ]
    let trained = model.Parameters() |> Seq.filter _.RequiresGrad |> Seq.toList
    try
        for p in trained do
            p.RequiresGrad <- false
        use _ = model.Eval()
        let logits = model.Call input
        let rootOf target =
            match target with
            | Channel(layer, _) ->
                match outputs.TryGetValue layer with
                | true, y -> layer, y
                | _ -> Input.fail "--layer: module %s did not run in the forward pass" layer
            | Class _ -> "", logits
        let picks = targets |> List.mapi (fun b t -> b, t, rootOf t)
        let values = Array.zeroCreate targets.Length
        let loss =
            picks
            |> List.groupBy (fun (_, _, (name, _)) -> name)
            |> List.map (fun (_, group) ->
                let _, _, (_, root) = group.Head
                let shape = root.Shape
                let plane = shape[2..] |> Array.fold (*) 1
                let all = toDoubles root
                let mask = Array.zeroCreate<float> all.Length
                for b, t, _ in group do
                    let channel =
                        match t with
                        | Channel(layer, c) ->
                            ActivationMaps.checkChannels layer shape [ c ]
                            c
                        | Class c ->
                            if c < 0 || c >= shape[1] then
                                Input.fail "--classes: class %d is out of range: the model has %d classes" c shape[1]
                            c
                    let start = (b * shape[1] + channel) * plane
                    values[b] <- Array.sub all start plane |> Array.average
                    for i in start .. start + plane - 1 do
                        mask[i] <- 1.0 / float plane
                let weights =
                    if root.Dtype = ScalarType.Float64 then
                        Tensor.Wrap(mask, shape, root.Device)
                    else
                        Tensor.Wrap(Array.map float32 mask, shape, root.Device)
                Functional.Sum(Functional.Mul(root, weights)))
            |> List.reduce (fun a b -> Functional.Add(a, b))
        loss.Backward()
        values, input.Grad
    finally
        for p in trained do
            p.RequiresGrad <- true
        for h in hooks do
            h.Dispose()

/// Each image of a batch (C x H x W planes) rolled by (dy, dx) pixels with wrap-around; negative shifts roll back.
let private roll (c: int) (h: int) (w: int) (shifts: (int * int)[]) (x: float32[]) =
    let out = Array.zeroCreate x.Length
    let size = c * h * w
    for b in 0 .. shifts.Length - 1 do
        let dy, dx = shifts[b]
        for k in 0 .. c - 1 do
            for y in 0 .. h - 1 do
                let row = b * size + k * h * w + ((y + dy) % h + h) % h * w
                for i in 0 .. w - 1 do
                    out[row + ((i + dx) % w + w) % w] <- x[b * size + k * h * w + y * w + i]
    out

/// Separable Gaussian blur of every h x w plane, edges clamped.
let private blur (h: int) (w: int) (sigma: float) (x: float32[]) =
    let radius = int (ceil (3.0 * sigma))
    let kernel = Array.init (2 * radius + 1) (fun i -> exp (-(float (i - radius) ** 2.0) / (2.0 * sigma * sigma)))
    let total = Array.sum kernel
    let kernel = kernel |> Array.map (fun v -> float32 (v / total))
    let pass (src: float32[]) (along: int) (across: int) (index: int -> int -> int) =
        let dst = Array.zeroCreate src.Length
        for p in 0 .. src.Length / (h * w) - 1 do
            for a in 0 .. across - 1 do
                for i in 0 .. along - 1 do
                    let mutable s = 0.0f
                    for j in -radius .. radius do
                        s <- s + kernel[j + radius] * src[p * h * w + index a (Math.Clamp(i + j, 0, along - 1))]
                    dst[p * h * w + index a i] <- s
        dst
    let rows = pass x w h (fun y i -> y * w + i)
    pass rows h w (fun i y -> y * w + i)

/// One maximised target: the activation of the starting noise and of the result.
type Maximised =
    {
        Target: string
        SeedActivation: float
        Activation: float
        /// The optimised input, C x H x W, normalised.
        Image: float32[]
    }

/// Gradient ascent on a batch of inputs of shape (C, H, W), one per target, normalised by mean and std (so that the
/// valid pixel range [0, 1] stays valid); progress gets (steps done, steps).
let run
    (device: Device)
    (model: Module)
    (shape: int[])
    (mean: float32[] option)
    (std: float32[] option)
    (settings: Settings)
    (targets: Target list)
    (progress: int -> int -> unit)
    =
    check settings
    let c, h, w = shape[0], shape[1], shape[2]
    let b = targets.Length
    let channelOf (v: float32[] option) (fallback: float32) (k: int) =
        v |> Option.map (fun v -> v[k % v.Length]) |> Option.defaultValue fallback
    let lo = Array.init c (fun k -> (0.0f - channelOf mean 0.0f k) / channelOf std 1.0f k)
    let hi = Array.init c (fun k -> (1.0f - channelOf mean 0.0f k) / channelOf std 1.0f k)
    let random = Random settings.Seed
    let gaussian () = sqrt (-2.0 * log (1.0 - random.NextDouble())) * cos (2.0 * Math.PI * random.NextDouble())
    let plane = h * w
    let clamp (x: float32[]) =
        for i in 0 .. x.Length - 1 do
            let k = i / plane % c
            x[i] <- Math.Clamp(x[i], lo[k], hi[k])
    let x =
        Array.init (b * c * plane) (fun i ->
            let k = i / plane % c
            let pixel = 0.5 + settings.NoiseStd * gaussian ()
            float32 ((Math.Clamp(pixel, 0.0, 1.0) - float (channelOf mean 0.0f k)) / float (channelOf std 1.0f k)))
    let batch (x: float32[]) = Tensor.Wrap(x, [| b; c; h; w |], device)
    let start, _ = objective model targets (batch x)
    let mutable current = x
    for step in 1 .. settings.Steps do
        let shifts =
            Array.init b (fun _ ->
                random.Next(-settings.Jitter, settings.Jitter + 1), random.Next(-settings.Jitter, settings.Jitter + 1))
        let _, grad = objective model targets (batch (roll c h w shifts current))
        let g = roll c h w (shifts |> Array.map (fun (dy, dx) -> -dy, -dx)) (grad.ToArray<float32>())
        let size = c * plane
        let next = Array.copy current
        for i in 0 .. b - 1 do
            let scale =
                settings.StepSize / (Array.averageBy (fun v -> abs (float v)) g[i * size .. (i + 1) * size - 1] + 1e-12)
            for j in i * size .. (i + 1) * size - 1 do
                next[j] <- float32 ((1.0 - settings.L2Decay) * float (next[j] + float32 scale * g[j]))
        let next =
            if settings.BlurEvery > 0 && step % settings.BlurEvery = 0 then blur h w settings.BlurSigma next else next
        clamp next
        current <- next
        progress step settings.Steps
    let final, _ = objective model targets (batch current)
    targets
    |> List.mapi (fun i t ->
        { Target = t.Name
          SeedActivation = start[i]
          Activation = final[i]
          Image = Array.sub current (i * c * plane) (c * plane) })

/// The file name of a target's picture.
let fileName (target: Target) =
    match target with
    | Channel(layer, c) -> $"""{layer.Replace('#', '_')}-c{c}.png"""
    | Class c -> $"class-{c}.png"
