/// `reengineer`: SeaM's model re-engineering of a zoo model with weights on a target problem of a labelled dataset,
/// as a result record; writes masks, the zeroed model (safetensors and ONNX) and the report into the output folder.
module Hybrid.Analysis.Reengineer

open System
open System.IO
open Hybrid.Core.Nn.Data
open Hybrid.Analysis.Reengineering
open Hybrid.Analysis.Reengineering.TargetProblem
open Hybrid.Analysis.Reengineering.ReengineerReport

type Request =
    {
        Model: string
        Arch: string option
        Dataset: string
        /// `--target-class C` (binary) or `--target-classes C1,C2,...` (multi-class): exactly one is given.
        TargetClass: string option
        TargetClasses: string option
        Split: string option
        Options: MaskTraining.Options
        Out: string
        Resume: bool
    }

/// The superclass of every image when the dataset is a CIFAR-100 file (its coarse labels), for superclass targets.
let private superclasses (spec: string) (data: LabelledImages) =
    let parsed = DatasetSpec.Parse spec
    if parsed.Kind = DatasetSpec.Source.Cifar100 then
        let coarse = Cifar.Load(parsed.Location, Cifar.Kind.Cifar100, coarse = true)
        Some(List.ofSeq Cifar.Cifar100CoarseClasses, data.Labels, coarse.Labels)
    else
        None

/// The target of a request, checked against the dataset's classes.
let private targetOf (r: Request) (spec: string) (data: LabelledImages) =
    let names = List.ofSeq data.ClassNames
    match r.TargetClass, r.TargetClasses with
    | Some c, None -> Binary(resolveBinary names c)
    | None, Some cs -> Classes(resolveClasses names (superclasses spec data) cs)
    | _ -> Input.fail "reengineer: give exactly one of --target-class and --target-classes"

/// Refuses a model that does not take the dataset's images or whose output is not one logit per dataset class.
let private checkFit
    (device: Hybrid.Core.Gpu.Device)
    (path: string)
    (model: Hybrid.Core.Nn.Modules.Module)
    (data: LabelledImages)
    =
    let y = Networks.outputForImage device path model data
    if y.Dim <> 2 || y.Size 1 <> data.ClassNames.Count then
        Input.fail
            "%s: the model gives %s outputs per image but the dataset has %d classes"
            path
            (Hybrid.Core.Nn.ShapeOps.Format(y.Shape))
            data.ClassNames.Count
    y.Size 1

/// Re-engineers as the request says, the masks trained by `engine` (MaskTraining.coreEngine: Core.Nn).
let runWith
    (engine: MaskTraining.Engine)
    (device: Hybrid.Core.Gpu.Device)
    (r: Request)
    (report: MaskTraining.Progress -> unit)
    =
    let o = r.Options
    if Path.GetExtension(r.Model).Equals(".onnx", StringComparison.OrdinalIgnoreCase) then
        Input.fail
            "%s: an ONNX graph cannot be masked; re-engineering needs a zoo architecture with weights (.safetensors, .pt, .pth, .bin or a Hugging Face folder)"
            r.Model
    let data = ImageRun.load r.Dataset true
    let target = targetOf r r.Dataset data
    let split = parseSplit data.Count o.Seed r.Split
    let arch, model = Networks.loadModule device r.Model r.Arch
    let classes = checkFit device r.Model model data
    let trainPart, valPart, testPart = splitIndices data.Count split
    let part indices stream = problemData data target indices o.Seed stream
    let (trainSet, _), (valSet, valLabels), (testSet, testLabels) = part trainPart 1L, part valPart 2L, part testPart 3L
    for name, set in [ "training", trainSet; "validation", valSet; "test", testSet ] do
        if set.Count = 0 then
            Input.fail
                "reengineer: the %s part of split %d,%d,%d holds no image of the target problem"
                name
                split.Train
                split.Validation
                split.Test
    let originalVal, _ = Measurements.originalAccuracy device model valSet valLabels target o.Mean o.Std
    let originalSeam, originalFair = Measurements.originalAccuracy device model testSet testLabels target o.Mean o.Std
    Directory.CreateDirectory r.Out |> ignore
    let k = trainSet.ClassNames.Count
    let net = MaskedModel.prepare model classes k o.Seed
    let epochs, selected = MaskTraining.trainWith engine device o net trainSet valSet originalVal r.Out r.Resume report
    let inputShape = [| data.Channels; data.Height; data.Width |]
    let reengineered = MaskTraining.accuracy device net testSet o
    let layers = Measurements.layers net inputShape
    let kept, total = MaskedModel.weightCounts net
    let build () = Hybrid.Core.Nn.Zoo.Zoo.Create(arch, numClasses = classes, inChannels = data.Channels).To device
    let plain = MaskedModel.zeroed net build
    let headFlops = int64 (plain.Head.[1] :?> Hybrid.Core.Nn.Modules.Linear).Weight.Numel
    let timeAt batch = Measurements.inferenceSeconds device plain inputShape batch
    let denseB1, sparseB1 = timeAt 1
    let denseB16, sparseB16 = timeAt 16
    let metadata = readOnlyDict [ "arch", arch; "target", String.Join(",", trainSet.ClassNames); "seed", string o.Seed ]
    Hybrid.Core.Nn.Formats.StateDicts.SaveSafetensors(
        Path.Combine(r.Out, "masks.safetensors"),
        net.StateDict()
        |> Seq.filter (fun struct (key, _) -> key.EndsWith "_mask" || key.StartsWith "head.")
        |> ResizeArray,
        metadata
    )
    Training.save plain inputShape metadata (Path.Combine(r.Out, "model.safetensors"))
    Training.save plain inputShape metadata (Path.Combine(r.Out, "model.onnx"))
    let result =
        { Model = r.Model
          Arch = arch
          Dataset = r.Dataset
          Target = List.ofSeq trainSet.ClassNames
          Split =
            { Train = split.Train
              Validation = split.Validation
              Test = split.Test
              Seed = split.Seed
              Problem = [ trainSet.Count; valSet.Count; testSet.Count ] }
          Schedule = (sprintf "%A" o.Schedule).ToLowerInvariant()
          LrMask = o.LrMask
          LrHead = o.LrHead
          Alpha = o.Alpha
          SelectedEpoch = (selected |> Option.map (fun e -> e.Epoch + 1) |> Option.defaultValue 0)
          OriginalValidationAccuracy = originalVal
          WeightsKept = float kept / float total
          Accuracy = { OriginalSeam = originalSeam; OriginalFair = originalFair; Reengineered = reengineered }
          Flops =
            { Dense = (layers |> List.sumBy _.DenseFlops) + headFlops
              Sparse = (layers |> List.sumBy _.SparseFlops) + headFlops }
          TimeS = { DenseB1 = denseB1; SparseB1 = sparseB1; DenseB16 = denseB16; SparseB16 = sparseB16 }
          Layers = layers
          Epochs = epochs |> List.map (fun e -> { e with Epoch = e.Epoch + 1 })
          Out = r.Out }
    ReengineerReport.write r.Out result
    result

/// `runWith` on Core.Nn.
let run device r report = runWith MaskTraining.coreEngine device r report
