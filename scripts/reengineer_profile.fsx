// One SeaM mask-training epoch of CIFAR ResNet-20 (what `hybrid bench reengineer` times: 1,182 random images, batch 64,
// MaskTraining.step) split into forward, backward, the ratio gradient and the optimiser step: the fastest of the epochs
// in process CPU time and wall time per phase, since CPU time moves far less than wall time on a shared, loaded machine.
// Run it under perf for a per-kernel profile:
//   DOTNET_EnableWriteXorExecute=0 DOTNET_PerfMapEnabled=1 perf record -e cpu-clock -F 199 -g dotnet fsi scripts/reengineer_profile.fsx
// Then one forward under an ActivationCensus: what the graph keeps alive for the backward, by producing op.
// Arguments: epochs (default 4), images (default 1182).
#load "load.fsx"

open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Zoo
open Hybrid.Analysis.Reengineering

let args = fsi.CommandLineArgs |> Array.skip 1
let epochs = Load.argOr args 0 int 4
let images = Load.argOr args 1 int 1182
let batch = 64
let device = Device.Cpu
let model = Zoo.Create("cifar-resnet20", seed = 1L).To device
let net = MaskedModel.prepare model 10 2 1L
let settings = { MaskTraining.defaults with BatchSize = batch }
let _, optimizer = MaskTraining.optimizers net settings
let generator = Generator 1L
let batches =
    [ for start in 0..batch .. images - 1 ->
          let n = min batch (images - start)
          generator.Normal(0.0, 1.0, ScalarType.Float32, n, 3, 32, 32).To device,
          Tensor.From(Array.init n (fun i -> int64 ((start + i) % 2)), [| n |], device) ]

let names = [ "forward"; "backward"; "ratio gradient"; "optimiser step"; "epoch" ]
let totals =
    use _ = MaskTraining.trainingMode net
    [ for _ in 0..epochs ->
          let sums = Array.create 5 (0.0, 0.0)
          let add i (c, w) =
              let c0, w0 = sums.[i]
              sums.[i] <- (c0 + c, w0 + w)
          let (), eCpu, eWall =
              Load.timed (fun () ->
                  for x, y in batches do
                      optimizer.ZeroGrad()
                      let loss, fCpu, fWall = Load.timed (fun () -> Functional.CrossEntropy(net.Call x, y))
                      add 0 (fCpu, fWall)
                      let (), bCpu, bWall = Load.timed (fun () -> loss.Backward())
                      add 1 (bCpu, bWall)
                      let (), rCpu, rWall = Load.timed (fun () -> MaskedModel.addRatioGradient net settings.Alpha)
                      add 2 (rCpu, rWall)
                      let (), sCpu, sWall = Load.timed (fun () -> optimizer.Step())
                      add 3 (sCpu, sWall))
          sums.[4] <- (eCpu, eWall)
          sums ]
    |> List.tail

for i, name in List.indexed names do
    let cpu = totals |> List.map (fun p -> fst p.[i]) |> List.min
    let wall = totals |> List.map (fun p -> snd p.[i]) |> List.min
    printfn $"%-15s{name} CPU %8.1f{cpu * 1e3} ms   wall %8.1f{wall * 1e3} ms"

// What the autograd graph of one mask-training forward keeps alive for the backward, by the op that produced it.
let census () =
    use _ = MaskTraining.trainingMode net
    let x, y = List.head batches
    use census = ActivationCensus.Start()
    let loss = Functional.CrossEntropy(net.Call x, y)
    let rows = census.Alive()
    loss.Backward()
    rows

let rows = census ()
for r in rows do
    printfn $"kept by the graph: %-16s{r.Op} %3d{r.Arrays} arrays %7.1f{float r.Bytes / 1e6} MB"
printfn
    $"kept by the graph: total %d{rows |> Seq.sumBy (fun r -> r.Arrays)} arrays %.1f{float (rows |> Seq.sumBy (fun r -> r.Bytes)) / 1e6} MB"
