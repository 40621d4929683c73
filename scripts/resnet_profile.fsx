// One ResNet-20 training step at batch 64 on the Cpu device (what `hybrid bench resnet` times), split into forward,
// backward and optimiser step: the fastest of 8 steps in process CPU time and in wall time for each phase, since CPU
// time moves far less than wall time on a shared, loaded machine. Run it under perf for a per-kernel profile:
//   DOTNET_EnableWriteXorExecute=0 DOTNET_PerfMapEnabled=1 perf record -e cpu-clock -F 199 -g dotnet fsi scripts/resnet_profile.fsx
// Argument: the batch (default 64).
#load "load.fsx"

open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Optim
open Hybrid.Core.Nn.Zoo

let batch = fsi.CommandLineArgs |> Array.tryItem 1 |> Option.map int |> Option.defaultValue 64
let device = Device.Cpu
let model = Zoo.Create("cifar-resnet20", seed = 1L)
model.To device |> ignore
model.Train() |> ignore
let generator = Generator 1L
let x = generator.Normal(0.0, 1.0, ScalarType.Float32, batch, 3, 32, 32).To device
let y = Tensor.From(Array.init batch (fun i -> int64 (i % 10)), [| batch |], device)
let optimizer = SGD(model.Parameters(), 0.1, momentum = 0.9, weightDecay = 5e-4, nesterov = true)

let phases =
    [ for _ in 1..9 ->
          optimizer.ZeroGrad()
          let loss, fCpu, fWall = Load.timed (fun () -> Functional.CrossEntropy(model.Call x, y))
          let (), bCpu, bWall = Load.timed (fun () -> loss.Backward())
          let (), sCpu, sWall = Load.timed (fun () -> optimizer.Step())
          [ fCpu, fWall; bCpu, bWall; sCpu, sWall ] ]
    |> List.tail

for i, name in List.indexed [ "forward"; "backward"; "optimiser step" ] do
    let cpu = phases |> List.map (fun p -> fst p.[i]) |> List.min
    let wall = phases |> List.map (fun p -> snd p.[i]) |> List.min
    printfn $"%-15s{name} CPU %7.1f{cpu * 1e3} ms   wall %7.1f{wall * 1e3} ms"
