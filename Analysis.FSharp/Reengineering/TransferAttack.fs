/// The transfer attack of SeaM's defect-inheritance experiment (ReMos's, in SeaM's eval_robustness.py): L-inf PGD with
/// a random start, in the normalised input space, crafted on the original pretrained model's feature extractor (the
/// input of its last Linear) and then given to models fine-tuned from it. The attack needs no labels and no fine-tuned
/// model, so one set of adversarial images serves every model it is transferred to.
module Hybrid.Analysis.Reengineering.TransferAttack

open System
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Modules
open Hybrid.Analysis.Reengineering.MaskedModel

type Options =
    {
        /// The L-inf radius around each clean input.
        Epsilon: float
        Steps: int
        StepSize: float
        /// Start from a uniform point of the eps-ball (advertorch's rand_init) rather than from the clean input.
        RandomStart: bool
    }

/// SeaM's (and ReMos's) settings: eps 0.1, 40 steps of 0.01, random start.
let seam = { Epsilon = 0.1; Steps = 40; StepSize = 0.01; RandomStart = true }

/// The classifier of a zoo model, its last Linear in module order, with its path; None for a model without a Linear.
let finalLinear (model: Module) =
    maskableLayers model
    |> List.choose (fun (path, layer) ->
        match layer with
        | :? Linear as l -> Some(path, l)
        | _ -> None)
    |> List.tryLast

/// What `model`'s classifier `linear` reads when the model runs on x: the features, with x's graph behind them. A
/// forward hook takes them, so no module is cut out of the model.
let features (model: Module) (linear: Linear) (x: Tensor) =
    let mutable seen = None
    do
        use _ = linear.RegisterForwardHook(fun _ input _ -> seen <- Some input)
        model.Call x |> ignore
    match seen with
    | Some f -> f
    | None -> invalidOp $"{linear} did not run in the forward pass of {model.TypeName}"

/// ReMos's feature target (eval_robustness.py's y): the first feature at 1000, the others at 0.
let private target = 1000.0

/// ReMos's weight of the other features' term.
let private othersWeight = 0.1

/// ReMos's distance of each row of features (n rows of `width`) from the target: (f_0 - 1000)^2 + 0.1 * mean over
/// j > 0 of f_j^2. eval_robustness.py's myloss is its negated batch mean, which advertorch's untargeted PGD maximises:
/// the attack drives the distance down, pulling one feature far out and the others to zero.
let distance (features: float32[]) (width: int) =
    Array.init (features.Length / width) (fun i ->
        let row = features.AsSpan(i * width, width)
        let mutable others = 0.0
        for j in 1 .. width - 1 do
            others <- others + float row.[j] * float row.[j]
        let first = float row.[0] - target
        first * first + (if width > 1 then othersWeight * others / float (width - 1) else 0.0))

/// The gradient of the sum of `distance` over rows, with respect to the features.
let private distanceGradient (features: float32[]) (width: int) =
    features
    |> Array.mapi (fun k f ->
        if k % width = 0 then
            float32 (2.0 * (float f - target))
        else
            float32 (2.0 * othersWeight * float f / float (width - 1)))

/// The valid range of each channel of normalised inputs: pixels in [0, 1] mapped by (p - mean) / std.
let bounds (channels: int) (mean: float32[] option) (std: float32[] option) =
    let at (values: float32[] option) fallback c =
        match values with
        | Some v when v.Length = 1 -> v.[0]
        | Some v -> v.[c]
        | None -> fallback
    Array.init channels (fun c -> (0.0f - at mean 0.0f c) / at std 1.0f c),
    Array.init channels (fun c -> (1.0f - at mean 0.0f c) / at std 1.0f c)

/// Adversarial twins of the normalised inputs x (N, C, H, W) against `extract` (images to features), as advertorch's
/// LinfPGDAttack crafts them: from x (or a uniform point of the eps-ball, drawn from `random` in element order), each
/// step moves every pixel by the step size against the sign of the distance's gradient, then projects onto the eps-ball
/// around x intersected with the channel's valid range [low, high]. Gradients flow to the input only.
let attack (o: Options) (extract: Tensor -> Tensor) (low: float32[], high: float32[]) (random: Generator) (x: Tensor) =
    let shape = x.Shape
    let channels, plane = shape.[1], shape.[2] * shape.[3]
    let clean = x.ToArray<float32>()
    let eps = float32 o.Epsilon
    let lowAt = Array.init clean.Length (fun i -> max low.[i / plane % channels] (clean.[i] - eps))
    let highAt = Array.init clean.Length (fun i -> min high.[i / plane % channels] (clean.[i] + eps))
    let project i (v: float32) = Math.Clamp(v, lowAt.[i], highAt.[i])
    let adversarial =
        if o.RandomStart then
            clean |> Array.mapi (fun i v -> project i (v + float32 (random.Uniform(-o.Epsilon, o.Epsilon))))
        else
            Array.copy clean
    let step = float32 o.StepSize
    for _ in 1 .. o.Steps do
        let input = Tensor.Wrap(Array.copy adversarial, shape, x.Device)
        input.RequiresGrad <- true
        let f = extract input
        let values = f.ToArray<float32>()
        f.Backward(Tensor.Wrap(distanceGradient values (values.Length / shape.[0]), f.Shape, f.Device))
        let grad = input.Grad.Span<float32>()
        for i in 0 .. adversarial.Length - 1 do
            adversarial.[i] <- project i (adversarial.[i] - step * float32 (sign grad.[i]))
    Tensor.Wrap(adversarial, shape, x.Device)
