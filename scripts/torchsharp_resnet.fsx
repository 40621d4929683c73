// A TorchSharp user's experiment with Hybrid: build a TorchSharp ResNet-20, load published weights into it,
// re-engineer it for one class with Hybrid's masked kernels (TorchSharp autograd functions, trained with TorchSharp's
// Adam), then index its layers: the architecture into a catalog and CKA between the original's and the
// re-engineered model's stages.
//   dotnet fsi scripts/torchsharp_resnet.fsx WEIGHTS CIFAR10_BATCH [CLASS] [EPOCHS]
// e.g. WEIGHTS = a CIFAR-10 ResNet-20 (model.safetensors), CIFAR10_BATCH = test_batch.bin, CLASS = 0 (airplane).
// Run `./hybrid --version` once first (it builds).
#load "load_torchsharp.fsx"

open System
open TorchSharp
open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Data
open Hybrid.Core.Nn.Modules
open Hybrid.Analysis
open Hybrid.TorchInterop

let args = Load.scriptArgs 2 "dotnet fsi scripts/torchsharp_resnet.fsx WEIGHTS CIFAR10_BATCH [CLASS] [EPOCHS]"

let weights, batchFile = args.[0], args.[1]
let target = Load.argOr args 2 int 0
let epochs = Load.argOr args 3 int 3

match Torch.available.Force() with
| Error why ->
    eprintfn "%s" why
    exit 1
| Ok() -> ()

// 1. The architecture as a TorchSharp module (the zoo's ResNet-20 with its masks enabled, mirrored: every Conv2d and
// Linear becomes Hybrid's masked layer), and the published weights loaded by PyTorch state key.
let blueprint = Hybrid.Core.Nn.Zoo.Zoo.Create "cifar-resnet20"

for struct (_, m) in blueprint.NamedModules() do
    match m with
    | :? MaskableLayer as layer -> layer.EnableMask()
    | _ -> ()

let model = StateDicts.fromCore blueprint
let original = StateDicts.fromCore (Hybrid.Core.Nn.Zoo.Zoo.Create "cifar-resnet20")
let published = Formats.StateDicts.Load weights
let withMasks = Collections.Generic.Dictionary<string, Tensor>(published)

for kv in model.state_dict () do
    if kv.Key.EndsWith "_mask" then
        withMasks.[kv.Key] <- Tensors.ofTorch kv.Value

StateDicts.copyInto model withMasks
StateDicts.copyInto original published

// 2. The data: CIFAR-10 with ImageNet normalisation, as the weights were trained; the target problem is "is it CLASS?".
let data = DatasetSpec.Load("cifar10:" + batchFile)
let mean, std = [| 0.485f; 0.456f; 0.406f |], [| 0.229f; 0.224f; 0.225f |]

let batches shuffle =
    let loader = DataLoader(data, DataLoaderOptions(BatchSize = 128, Shuffle = shuffle, Mean = mean, Std = std))

    seq {
        for b in loader.Epoch 0 ->
            let x = Tensors.toTorch (Networks.batchTensor Device.Cpu b)
            let y = torch.tensor (b.Labels |> Array.map (fun l -> if int l = target then 1L else 0L))
            x, y
    }

/// Two logits for the binary problem: the target class's, and the log-sum-exp of the others'.
let binary (logits: torch.Tensor) =
    let classes = logits.shape.[1]
    let t = int64 target
    let others = torch.cat ([| logits.narrow (1L, 0L, t); logits.narrow (1L, t + 1L, classes - t - 1L) |], 1L)
    torch.stack ([| others.logsumexp (1L); logits.select (1L, t) |], 1L)

// 3. SeaM's objective: the binary cross-entropy plus alpha times the share of weights kept (straight through), masks
// trained by Adam while the weights stay frozen.
let scores =
    [ for struct (name, p) in model.named_parameters () do
          if name.EndsWith "weight_mask" then
              p ]

for struct (name, p) in model.named_parameters () do
    if not (name.EndsWith "_mask") then
        p.requires_grad <- false

let optimizer = torch.optim.Adam(scores, lr = 0.01)
let alpha = 1.0
let total = scores |> List.sumBy (fun s -> s.numel ())

let kept () =
    use _ = torch.no_grad ()
    (scores |> List.sumBy (fun s -> s.gt(torch.tensor 0.0f).sum().item<int64>())) |> float

for epoch in 1..epochs do
    model.train ()

    for x, y in batches true do
        use _ = torch.NewDisposeScope()
        optimizer.zero_grad ()

        let share =
            scores
            |> List.map (fun p ->
                // As a plain tensor: F# would otherwise add a Parameter through its conversion to a scalar.
                let s = p :> torch.Tensor
                (s.gt(torch.tensor 0.0f).to_type(s.dtype) + s - s.detach ()).sum())
            |> List.reduce (+)

        let loss = torch.nn.functional.cross_entropy (binary (model.call x), y) + alpha * share / float total
        loss.backward ()
        optimizer.step () |> ignore

    printfn "epoch %d: %.1f%% of the weights kept" epoch (100.0 * kept () / float total)

let accuracy (m: Tensors.TorchModule) =
    m.eval ()
    let mutable correct, n = 0L, 0L

    for x, y in batches false do
        use _ = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        correct <- correct + (binary (m.call x)).argmax(1L).eq(y).sum().item<int64>()
        n <- n + y.shape.[0]

    float correct / float n

printfn
    "binary accuracy (class %d vs the rest): original %.4f, re-engineered %.4f"
    target
    (accuracy original)
    (accuracy model)

// 4. Index the layers: both architectures into a catalog, and CKA between the stages of the two models.
let labels: Architecture.Labels =
    { ModelType = Some "cifar-resnet20"; Architectures = [ "ResNet" ]; Task = Some "image-classification" }
let probe = fst (Seq.head (batches false))
let catalog = Catalog.openOrCreate "torchsharp-resnet.db"
let ids =
    [ Structure.addToCatalog catalog "resnet20" labels original probe
      Structure.addToCatalog catalog $"resnet20-class{target}" labels model probe ]
printfn "catalog torchsharp-resnet.db: models %A" ids

let stages = [ "layer1"; "layer2"; "layer3" ]
let a = Analyses.layerActivations original stages probe
let b = Analyses.layerActivations model stages probe

for s in stages do
    printfn "linear CKA %s: original vs re-engineered %.3f" s (Cka.Score(Device.Cpu, a.[s], b.[s]))
