/// TorchSharp as the engine of `hybrid train` and `hybrid reengineer`: the same loops (Training.trainWith,
/// MaskTraining.trainWith: data order, augmentation, epochs, evaluation, selection and checkpoints are theirs), with
/// every step computed on the model's TorchSharp twin by libtorch: its forward and autograd, its cross-entropy, its
/// optimisers and schedules (torch.optim), and for re-engineering Hybrid's masked kernels as TorchSharp autograd
/// functions (MaskedLayers). After each step the twin's weights go back into the Core.Nn model, which the loops
/// evaluate and save.
module Hybrid.TorchInterop.Learners

open TorchSharp
open Hybrid.Core.Nn
open Hybrid.Analysis
open Hybrid.Analysis.Reengineering
open Hybrid.Analysis.Reengineering.MaskedModel
open Hybrid.TorchInterop.Tensors

/// The name both learners record in their checkpoints.
let engineName = "torchsharp"

/// The optimisers' moments live in libtorch and have no checkpoint form here: a run on this engine starts from the
/// beginning (the loops refuse a Core.Nn checkpoint on it by its recorded engine).
let private noResume () =
    raise (
        InputException(
            "--resume",
            $"a run on --engine {engineName} cannot continue from a checkpoint (libtorch's optimiser state is not stored); run it again without --resume or use --engine core"
        )
    )

/// One libtorch step on a Core.Nn batch: the inputs reach libtorch without a copy, `forward` gives the logits,
/// `optimise` runs the backward pass and the optimiser on the cross-entropy. Returns the cross-entropy and a copy of
/// the logits; every libtorch tensor of the step is freed.
let private step (forward: TorchTensor -> TorchTensor) (optimise: TorchTensor -> unit) (x: Tensor) (y: Tensor) =
    use _ = torch.NewDisposeScope()
    use input = Tensors.toTorch x
    use labels = Tensors.toTorch y
    let logits = forward input
    let loss = torch.nn.functional.cross_entropy (logits, labels)
    optimise loss
    loss.ToDouble(), Tensors.ofTorch (logits.detach ())

/// `hybrid train --engine torchsharp`: torch.optim.SGD with the options' momentum, Nesterov and weight decay over the
/// twin's parameters, and torch.optim.lr_scheduler's CosineAnnealingLR or StepLR stepped after every batch, as
/// Training.coreEngine does with Core.Nn's.
let training: Training.Engine =
    fun o model batchCount ->
        Torch.require ()
        let twin = StateDicts.fromCore model

        let sgd =
            torch.optim.SGD(
                twin.parameters (),
                o.LearningRate,
                momentum = o.Momentum,
                weight_decay = o.WeightDecay,
                nesterov = o.Nesterov
            )

        let scheduler =
            match o.Schedule with
            | Training.Cosine -> Some(torch.optim.lr_scheduler.CosineAnnealingLR(sgd, float (o.Epochs * batchCount)))
            | Training.StepDecay(every, gamma) -> Some(torch.optim.lr_scheduler.StepLR(sgd, every * batchCount, gamma))
            | Training.Constant -> None

        { new Training.Learner with
            member _.Engine = engineName

            member _.Step(x, y) =
                twin.train ()

                step
                    twin.call
                    (fun loss ->
                        sgd.zero_grad ()
                        loss.backward ()
                        sgd.step () |> ignore
                        scheduler |> Option.iter _.step())
                    x
                    y

            member _.LearningRate = (Seq.head sgd.ParamGroups).LearningRate
            member _.Sync() = StateDicts.loadIntoCore model twin
            member _.State() = []
            member _.Load _ = noResume () }

/// The twin's parameters whose names pass `keep`, in the order of its state.
let private parametersWhere (twin: TorchModule) (keep: string -> bool) =
    [ for struct (name, p) in twin.named_parameters () do
          if keep name then
              name, p ]

/// `hybrid reengineer --engine torchsharp`: the net's twin, whose masked layers are MaskedLayers (Hybrid's masked
/// conv2d / linear as TorchSharp autograd functions, SeaM's straight-through rules), trained as MaskTraining.step does:
/// the original's weights and BatchNorms frozen (running statistics too), the head alone by one torch.optim.Adam in
/// head-only epochs, the mask scores and the head by another, the weight ratio's gradient alpha / N added to every
/// score's gradient before the step.
let masking: MaskTraining.Engine =
    fun o net ->
        Torch.require ()
        let twin = StateDicts.fromCore net
        let learns (name: string) = name.EndsWith "_mask" || name.StartsWith "head."

        for struct (name, p) in twin.named_parameters () do
            p.requires_grad <- learns name

        let head = parametersWhere twin (fun n -> n.StartsWith "head.") |> List.map snd
        let scores = parametersWhere twin (fun n -> n.EndsWith "_mask") |> List.map snd
        let headModule = Hybrid.TorchInterop.Modules.childNamed twin "head"
        let original = Hybrid.TorchInterop.Modules.childNamed twin "model"
        let adamHead = torch.optim.Adam(head, lr = o.LrHead)

        let adamBoth =
            torch.optim.Adam(
                [ TorchSharp.Modules.Adam.ParamGroup(scores, lr = o.LrMask)
                  TorchSharp.Modules.Adam.ParamGroup(head, lr = o.LrHead) ],
                lr = o.LrMask
            )

        let total = float (weightTotal net)

        // SeaM's fix_bn: training mode, every BatchNorm in evaluation mode.
        let trainingMode () =
            twin.train ()

            for m in twin.modules () do
                match m with
                | :? TorchSharp.Modules.BatchNorm2d as bn -> bn.eval ()
                | _ -> ()

        let sync () =
            use _ = torch.no_grad ()

            let state = readOnlyDict [ for name, p in parametersWhere twin learns -> name, Tensors.ofTorch p ]

            net.LoadStateDict(state, strict = false) |> ignore

        { new MaskTraining.Learner with
            member _.Engine = engineName

            member _.Step(headOnly, alpha, x, y) =
                trainingMode ()

                if headOnly then
                    // The head alone learns: the original's output needs no graph behind it.
                    let forward (input: TorchTensor) =
                        let features =
                            use _ = torch.no_grad ()
                            original.call input

                        headModule.call features

                    step
                        forward
                        (fun ce ->
                            adamHead.zero_grad ()
                            ce.backward ()
                            adamHead.step () |> ignore)
                        x
                        y
                else
                    step
                        twin.call
                        (fun ce ->
                            adamBoth.zero_grad ()
                            ce.backward ()

                            use _ = torch.no_grad ()
                            // float32(alpha / N) on every score, as MaskedModel.addRatioGradient adds it.
                            use push = torch.tensor (float32 (alpha / total))

                            for s in scores do
                                s.grad.add_ push |> ignore

                            adamBoth.step () |> ignore)
                        x
                        y

            member _.Sync() = sync ()
            member _.State() = []
            member _.Load _ = noResume () }
