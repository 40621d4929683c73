/// `hybrid bench gemm`: square single-precision C = A B through Blas.Sgemm, against NumPy's float32 matmul.
module Hybrid.Bench.GemmBench

open System
open Hybrid.Core.Gpu
open Hybrid.Bench.Report

type Options = { Sizes: int list; Timing: Timing.Policy }

/// The full run: from L2-resident matrices (256) to ones far larger than any cache (4096, 64 MiB each).
let defaults = { Sizes = [ 256; 512; 1024; 2048; 4096 ]; Timing = Timing.standard }

/// The demo: sizes that finish in seconds, timed briefly.
let quick = { Sizes = [ 256; 512; 1024 ]; Timing = Timing.quick }

let peer = { Peers.Script = "gemm_numpy.py"; Peers.Packages = [ "python3-numpy" ] }

/// The name of a case, shared with the peer's output.
let caseName (n: int) = $"sgemm {n}"

/// Seconds of one n x n x n SGEMM on device, with A and B filled from random.
let private timeSize (device: Device) (policy: Timing.Policy) (random: Random) (n: int) =
    let length = Checked.(*) n n
    use a = Data.uploadNormal device random length
    use b = Data.uploadNormal device random length
    use c = device.Allocate<float32> length
    let shape = GemmShape.Dense(Transpose.No, Transpose.No, n, n, n)
    Timing.measureOn device policy (fun () -> Blas.Sgemm(shape, a, b, c))

/// Times every size on device, then runs the NumPy peer on the same sizes under the same timing policy.
/// The peer runs after ours, never beside it, so the two never share the cores.
let runWith (options: Options) (device: Device) =
    let random = Random Data.seed
    let ours =
        options.Sizes
        |> List.map (fun n ->
            progress "gemm" $"timing {n}x{n} on {device.Name}"
            n, timeSize device options.Timing random n)
    progress "gemm" "timing the NumPy peer"
    let outcome = Peers.runTimed peer options.Timing ([ "--sizes" ] @ List.map string options.Sizes)
    { Benchmark = "gemm"
      Device = device.Name
      Cores = cores ()
      Cases = ours |> List.map (fun (n, s) -> Peers.toCase "numpy" outcome (caseName n) s) }

/// Times the given square sizes (the full run's timing policy).
let run (device: Device) (sizes: int list) = runWith { defaults with Sizes = sizes } device
