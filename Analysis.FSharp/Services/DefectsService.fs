/// `defects`: SeaM's defect-inheritance experiment on a pretrained model and the output folder of `hybrid reengineer`:
/// the original, the re-engineered model with its masks enforced and SeaM's unenforced variant are fine-tuned on a
/// target dataset, then given adversarial images crafted on the original's feature extractor; as a result record.
module Hybrid.Analysis.DefectsService

open System.IO
open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Data
open Hybrid.Core.Nn.Zoo
open Hybrid.Analysis.Reengineering
open Hybrid.Analysis.Reengineering.Defects

type Request =
    {
        Original: string
        Arch: string option
        /// The --out folder of `hybrid reengineer` (its masks.safetensors).
        Reengineered: string
        Dataset: string
        TrainCount: int
        TestCount: int
        /// Smaller images are padded to ImageSize x ImageSize.
        ImageSize: int
        FineTuning: Defects.Options
        Attack: TransferAttack.Options
    }

/// What a request uses when it names no dataset or sizes: Fashion-MNIST, 5,000 images to fine-tune on and 1,000 to
/// attack, padded to CIFAR's 32 x 32.
let defaultData = {| Dataset = "fashion-mnist"; TrainCount = 5000; TestCount = 1000; ImageSize = 32 |}

type Progress =
    /// Adversarial images crafted so far, of all test images.
    | Crafted of doneCount: int * total: int
    | FineTuning of model: string * FineTuneProgress

type ModelResult =
    {
        Model: string
        CleanAccuracy: float
        AdversarialAccuracy: float
        CleanCorrect: int
        Flipped: int
        /// Flipped / CleanCorrect; null when the model classifies no test image correctly.
        DefectRate: float option
        /// The share of the pretrained layers' weights and biases (every Conv2d and Linear but the new classifier)
        /// that are not zero after fine-tuning.
        NonzeroWeights: float
        Epochs: EpochReport list
    }

type FineTuningSettings = { Epochs: int; BatchSize: int; Lr: float; HeadLr: float; Momentum: float; WeightDecay: float }

/// The attack's settings and the valid range of each normalised input channel it clips to.
type AttackSettings =
    { Epsilon: float; Steps: int; StepSize: float; RandomStart: bool; Low: float32[]; High: float32[] }

/// How much lower each re-engineered model's defect rate is than the original's, relative to it.
type Reduction = { Enforced: float option; Unenforced: float option }

type DefectsResult =
    {
        Original: string
        Arch: string
        Reengineered: string
        /// The target problem the masks were learnt for (from masks.safetensors) and the share of weights they keep.
        Target: string
        WeightsKept: float
        Dataset: string
        Classes: string list
        /// The images as the models take them (channels, height, width).
        Image: int list
        TrainCount: int
        TestCount: int
        Seed: int64
        Mean: float32[] option
        Std: float32[] option
        FineTuning: FineTuningSettings
        Attack: AttackSettings
        /// The original, reengineered-enforced and reengineered-unenforced, in this order.
        Models: ModelResult list
        Reduction: Reduction
    }

let private validate (r: Request) =
    let o, a = r.FineTuning, r.Attack
    let positive (flag: string) (value: int) =
        if value < 1 then
            Input.fail "defects: --%s %d must be at least 1" flag value
    positive "train-count" r.TrainCount
    positive "test-count" r.TestCount
    positive "image-size" r.ImageSize
    positive "epochs" o.Epochs
    positive "batch" o.BatchSize
    if not (o.Lr > 0.0) then
        Input.fail "defects: --lr %g must be positive" o.Lr
    if not (a.Epsilon >= 0.0 && a.StepSize >= 0.0) || a.Steps < 0 then
        Input.fail "defects: --eps %g, --steps %d and --step-size %g must not be negative" a.Epsilon a.Steps a.StepSize

/// The masks of the re-engineering run in `dir`, by the original's state keys, with the file's metadata.
let private readMasks (dir: string) =
    if not (Directory.Exists dir) then
        Input.fail "%s: no such folder (give the --out folder of hybrid reengineer)" dir
    let path = Path.Combine(dir, "masks.safetensors")
    if not (File.Exists path) then
        Input.fail "%s: missing; the --out folder of hybrid reengineer holds it" path
    let saved = Checkpoint.read path
    path, saved.Part "model", saved.Metadata

/// The fine-tuning and test images: the IDX datasets hold a training and a test split, each sampled with the seed;
/// any other dataset is one file, of which two disjoint seeded parts are taken.
let private sample (spec: string) (trainCount: int) (testCount: int) (seed: int64) =
    let take (data: LabelledImages) (indices: int[]) = TargetProblem.subset data indices id (List.ofSeq data.ClassNames)
    match (Input.guard "dataset" (fun () -> DatasetSpec.Parse spec)).Kind with
    | DatasetSpec.Source.FashionMnist
    | DatasetSpec.Source.Mnist ->
        let part train count stream flag =
            let data = ImageRun.load spec train
            if count > data.Count then
                Input.fail "defects: --%s %d asks for more than the %d images of %s" flag count data.Count spec
            take data (TargetProblem.permutation seed stream data.Count |> Array.truncate count)
        part true trainCount 1L "train-count", part false testCount 2L "test-count"
    | _ ->
        let data = ImageRun.load spec true
        if trainCount + testCount > data.Count then
            Input.fail
                "defects: --train-count %d and --test-count %d ask for more than the %d images of %s"
                trainCount
                testCount
                data.Count
                spec
        let order = TargetProblem.permutation seed 1L data.Count
        take data order.[.. trainCount - 1], take data order.[trainCount .. trainCount + testCount - 1]

/// The test images as normalised input batches, in order.
let private batches (device: Device) (o: Defects.Options) (data: LabelledImages) =
    let options = Networks.inOrder o.BatchSize o.Mean o.Std
    let loader = Input.guard "defects" (fun () -> DataLoader(data, options))
    [ for b in loader.Epoch 0 -> Networks.batchTensor device b ]

/// Adversarial twins of the test batches, crafted on the original's features with its weights frozen.
let private craft (r: Request) (original: Modules.Module) bounds (clean: Tensor list) (report: Progress -> unit) =
    for p in original.Parameters() do
        p.RequiresGrad <- false
    use _ = original.Eval()
    let _, classifier = classifierOf original
    let extract = TransferAttack.features original classifier
    let random = Generator(r.FineTuning.Seed)
    let total = clean |> List.sumBy (fun x -> x.Size 0)
    let mutable crafted = 0
    [ for x in clean ->
          let adversarial = TransferAttack.attack r.Attack extract bounds random x
          crafted <- crafted + x.Size 0
          report (Crafted(crafted, total))
          adversarial ]

let run (device: Device) (r: Request) (report: Progress -> unit) =
    validate r
    let o = r.FineTuning
    let masksPath, masks, metadata = readMasks r.Reengineered
    let arch, original = Networks.loadModule device r.Original r.Arch
    match metadata.TryGetValue "arch" with
    | true, learnt when learnt <> arch ->
        Input.fail "%s: the masks were learnt for %s, but %s is %s" masksPath learnt r.Original arch
    | _ -> ()
    checkMasks masksPath masks original
    // Refused here, before any work, when the model has no Linear to replace.
    classifierOf original |> ignore
    let _, channels = Networks.shapeOf (original.StateDict() |> Seq.map (fun struct (k, v) -> k, v) |> readOnlyDict)
    let channels = defaultArg channels 3
    let trainSet, testSet =
        let trainSet, testSet = sample r.Dataset r.TrainCount r.TestCount o.Seed
        fitImages r.Dataset channels r.ImageSize trainSet, fitImages r.Dataset channels r.ImageSize testSet
    let build () =
        Zoo.Create(arch, numClasses = trainSet.ClassNames.Count, inChannels = channels, seed = o.Seed).To device
    Networks.outputForImage device r.Original original trainSet |> ignore
    let clean = batches device o testSet
    let bounds = TransferAttack.bounds channels o.Mean o.Std
    let adversarial = craft r original bounds clean report
    let models =
        [ for variant in [ Standard; Enforced; Unenforced ] ->
              let name = variantName variant
              let model = prepare build original masks variant
              let epochs = fineTune device o model trainSet (fun p -> report (FineTuning(name, p)))
              let result = outcome testSet.Labels (predict model clean) (predict model adversarial)
              { Model = name
                CleanAccuracy = result.CleanAccuracy
                AdversarialAccuracy = result.AdversarialAccuracy
                CleanCorrect = result.CleanCorrect
                Flipped = result.Flipped
                DefectRate = result.DefectRate
                NonzeroWeights = nonzeroShare model
                Epochs = epochs } ]
    let rateOf name = models |> List.find (fun m -> m.Model = variantName name) |> _.DefectRate
    { Original = r.Original
      Arch = arch
      Reengineered = r.Reengineered
      Target =
        (match metadata.TryGetValue "target" with
         | true, t -> t
         | _ -> "")
      WeightsKept = keptShare masks
      Dataset = r.Dataset
      Classes = List.ofSeq trainSet.ClassNames
      Image = [ trainSet.Channels; trainSet.Height; trainSet.Width ]
      TrainCount = trainSet.Count
      TestCount = testSet.Count
      Seed = o.Seed
      Mean = o.Mean
      Std = o.Std
      FineTuning =
        { Epochs = o.Epochs
          BatchSize = o.BatchSize
          Lr = o.Lr
          HeadLr = o.Lr * headLrFactor
          Momentum = o.Momentum
          WeightDecay = o.WeightDecay }
      Attack =
        { Epsilon = r.Attack.Epsilon
          Steps = r.Attack.Steps
          StepSize = r.Attack.StepSize
          RandomStart = r.Attack.RandomStart
          Low = fst bounds
          High = snd bounds }
      Models = models
      Reduction =
        { Enforced = reduction (rateOf Standard) (rateOf Enforced)
          Unenforced = reduction (rateOf Standard) (rateOf Unenforced) } }
