// Where a re-engineered model's inference time goes, dense against sparse, layer by layer: each Conv2d / Linear timed
// alone on the input it receives in the model (sparse: with its batch norm folded in, as SparseInference.Enable runs
// it), and the whole forward both ways; what the layers do not account for is the rest (batch norms, ReLUs, adds,
// shortcuts, pooling, allocation). Fastest of `runs` wall times after a warm-up, on the Cpu device.
//   dotnet fsi scripts/sparse_profile.fsx REENGINEER_OUT_DIR [BATCH] [RUNS]
// REENGINEER_OUT_DIR is the --out folder of `hybrid reengineer` (its model.safetensors). Run `./hybrid --version` once
// first (it builds).
#load "load.fsx"

open System.Diagnostics
open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Modules
open Hybrid.Analysis.Reengineering

let args = Load.scriptArgs 1 "dotnet fsi scripts/sparse_profile.fsx REENGINEER_OUT_DIR [BATCH] [RUNS]"

let batch = Load.argOr args 1 int 16
let runs = Load.argOr args 2 int 50
let net = MaskedModel.loadZeroed Device.Cpu (System.IO.Path.Combine(args.[0], "model.safetensors"))
let x = Generator(1L).Uniform(0.0, 1.0, ScalarType.Float32, batch, 3, 32, 32)

/// The fastest wall time of `runs` calls after two warm-ups, in milliseconds.
let fastest (f: unit -> unit) =
    f ()
    f ()
    [ for _ in 1..runs ->
          let clock = Stopwatch.StartNew()
          f ()
          clock.Elapsed.TotalMilliseconds ]
    |> List.min

let forward (input: Tensor) (m: Module) () =
    use _ = m.Eval()
    use _ = Autograd.NoGrad()
    m.Call input |> ignore

// The input each masked layer sees, captured once on the dense model.
let inputs = System.Collections.Generic.Dictionary<Module, Tensor>(HashIdentity.Reference)

let hooks = [ for path, layer in net.Layers -> layer.RegisterForwardHook(fun m input _ -> inputs.[m] <- input.Clone()) ]

forward x net ()

for h in hooks do
    h.Dispose()

let denseLayers = [ for path, layer in net.Layers -> path, fastest (forward inputs.[layer] layer) ]
let denseWhole = fastest (forward x net)
let plan = SparseInference.Enable(net, x)

let sparseLayers =
    [ for path, layer in net.Layers -> path, layer.IsSparse, layer.FoldedNorm, fastest (forward inputs.[layer] layer) ]

let sparseWhole = fastest (forward x net)

printfn
    "batch %d, %d runs, %s, load %s"
    batch
    runs
    (System.DateTime.UtcNow.ToString "u")
    (System.IO.File.ReadAllText "/proc/loadavg")
printfn "%-18s %8s %6s %10s %10s %6s" "layer" "kept" "kernel" "dense ms" "sparse ms" "ratio"

for (path, dense), (_, isSparse, folded, sparse) in List.zip denseLayers sparseLayers do
    let layer = net.Layers |> List.find (fst >> (=) path) |> snd
    let weight = layer.EffectiveWeight()
    let kept = float (weight |> Array.filter ((<>) 0.0f) |> Array.length) / float weight.Length
    let kernel = if isSparse then (if isNull folded then "sparse" else "sp+bn") else "dense"
    printfn "%-18s %7.1f%% %6s %10.3f %10.3f %5.2fx" path (kept * 100.0) kernel dense sparse (dense / sparse)

let sumDense = denseLayers |> List.sumBy snd
let sumSparse = sparseLayers |> List.sumBy (fun (_, _, _, t) -> t)
printfn "%-18s %7s %6s %10.3f %10.3f %5.2fx" "layers" "" "" sumDense sumSparse (sumDense / sumSparse)
printfn "%-18s %7s %6s %10.3f %10.3f" "rest" "" "" (denseWhole - sumDense) (sparseWhole - sumSparse)
printfn "%-18s %7s %6s %10.3f %10.3f %5.2fx" "whole model" "" "" denseWhole sparseWhole (denseWhole / sparseWhole)
printfn "plan: %A" plan
