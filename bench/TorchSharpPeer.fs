/// TorchSharp (libtorch 2.10, the library a current PyTorch runs on; Debian's python3-torch is 1.13) as a second peer,
/// timed in this process after our own figures: the same work as the Python peer scripts, written with TorchSharp.
module Hybrid.Bench.TorchSharpPeer

open System.Collections.Generic
open TorchSharp
open Hybrid.Bench.Report
open Hybrid.TorchInterop

/// The peer's name in the tables.
let name = "torchsharp"

/// w * 1[s > 0], whose backward passes the gradient to w through the mask and to s straight through (times w): the
/// Python conv peer's StraightThroughMask.
type private StraightThroughMask() =
    inherit torch.autograd.SingleTensorFunction<StraightThroughMask>()

    override _.Name = "StraightThroughMask"

    override _.forward(ctx, vars) =
        let w, s = vars.[0] :?> torch.Tensor, vars.[1] :?> torch.Tensor
        let m = s.gt(torch.tensor 0.0f).to_type w.dtype
        ctx.save_for_backward (List [ w; m ])
        w * m

    override _.backward(ctx, grad) =
        let saved = ctx.get_saved_variables ()
        List [ grad * saved.[1]; grad * saved.[0] ]

/// Times `work` under the policy, every libtorch tensor it makes freed after each run, on all cores as the peers run.
let private measure (policy: Timing.Policy) (work: unit -> unit) =
    torch.set_num_threads (cores ())
    Timing.measure policy (fun () ->
        use _ = torch.NewDisposeScope()
        work ())

/// Seconds of a 3x3 convolution (padding 1), forward + backward, plain and masked, as conv_torch.py times them.
let conv (policy: Timing.Policy) (batch: int) (cin: int) (cout: int) (size: int) (stride: int) (bias: bool) =
    torch.manual_seed (int64 Data.seed) |> ignore
    let x = torch.randn(int64 batch, int64 cin, int64 size, int64 size).requires_grad_()
    let w = (torch.randn (int64 cout, int64 cin, 3L, 3L) * sqrt (2.0 / float (cin * 9))).requires_grad_()
    let s = torch.randn(int64 cout, int64 cin, 3L, 3L).requires_grad_()
    let b = if bias then torch.randn(int64 cout).requires_grad_() else null
    let out = int64 ((size + 2 - 3) / stride + 1)
    let gy = torch.randn (int64 batch, int64 cout, out, out)
    let withBias (ts: torch.Tensor list) = if bias then ts @ [ b ] else ts

    let run (weight: unit -> torch.Tensor) (inputs: torch.Tensor list) () =
        let y = torch.nn.functional.conv2d (x, weight (), b, strides = [| int64 stride |], padding = [| 1L |])
        torch.autograd.grad (List [ y ], List(withBias inputs), List [ gy ]) |> ignore

    measure policy (run (fun () -> w) [ x; w ]),
    measure policy (run (fun () -> StraightThroughMask.apply (w, s)) [ x; w; s ])

/// Seconds of ResNet-20 inference and of one SGD training step (momentum 0.9, Nesterov, weight decay 5e-4,
/// cross-entropy), as resnet_torch.py times them: the zoo's ResNet-20 mirrored into TorchSharp.
let resnet (policy: Timing.Policy) (inferenceBatch: int) (trainBatch: int) =
    torch.manual_seed (int64 Data.seed) |> ignore
    let model = StateDicts.fromCore (Hybrid.Core.Nn.Zoo.Zoo.Create("cifar-resnet20", seed = int64 Data.seed))
    let x = torch.randn (int64 inferenceBatch, 3L, 32L, 32L)
    model.eval ()

    let inference =
        measure policy (fun () ->
            use _ = torch.no_grad ()
            model.call x |> ignore)

    let xt = torch.randn (int64 trainBatch, 3L, 32L, 32L)
    let yt = torch.tensor (Array.init trainBatch (fun i -> int64 (i % 10)))
    let optimizer = torch.optim.SGD(model.parameters (), 0.1, momentum = 0.9, weight_decay = 5e-4, nesterov = true)
    model.train ()

    let training =
        measure policy (fun () ->
            optimizer.zero_grad ()
            let loss = torch.nn.functional.cross_entropy (model.call xt, yt)
            loss.backward ()
            optimizer.step () |> ignore)

    inference, training

/// The TorchSharp row of a case: its seconds, or a note saying why libtorch could not run here.
let case (seconds: Result<float, string>) (caseName: string) (oursS: float) =
    match seconds with
    | Ok s -> { Case = caseName; OursS = oursS; Peer = name; PeerS = Some s; Note = None }
    | Error why -> { Case = caseName; OursS = oursS; Peer = name; PeerS = None; Note = Some $"peer skipped: {why}" }

/// Runs `time` when libtorch loads here, else the reason it did not.
let timeIfAvailable (time: unit -> 'T) : Result<'T, string> = Torch.available.Force() |> Result.map time
