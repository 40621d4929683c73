/// Seeded, reproducible benchmark inputs: the same seed gives the same arrays on every run and every device,
/// so a change in a timing is a change in the code, not in the data (sparsity patterns in particular).
module Hybrid.Bench.Data

open System
open Hybrid.Core.Gpu

/// The seed every benchmark starts from; the peers get it too (their generators differ, the distributions do not).
let seed = 20240607

/// n samples of N(0, 1) in float64, by the Box-Muller transform (both halves of each pair).
let normal64 (random: Random) (n: int) =
    let values = Array.zeroCreate<float> n
    BoxMuller.FillPairs(random, Span values)
    values

/// n samples of a normal distribution N(0, scale^2), by the Box-Muller transform (both halves of each pair).
let normal (random: Random) (scale: float32) (n: int) = normal64 random n |> Array.map (fun v -> scale * float32 v)

/// Mask scores of which a share of about density is positive (kept), the rest negative:
/// uniform on (density - 1, density], so that P(score > 0) = density.
let scoresWithDensity (random: Random) (density: float) (n: int) =
    Array.init n (fun _ -> float32 (density - random.NextDouble()))

/// A new array on device holding values.
let upload (device: Device) (values: float32[]) = device.Upload<float32>(ReadOnlySpan values)

/// A new array on device of n normal samples (scale 1).
let uploadNormal (device: Device) (random: Random) (n: int) = upload device (normal random 1.0f n)

/// Writes values as a raw little-endian file, the form the Python peers read with numpy.fromfile.
let writeRaw<'T when 'T: unmanaged and 'T: struct and 'T :> ValueType and 'T: (new: unit -> 'T)>
    (path: string)
    (values: 'T[])
    =
    use file = IO.File.Create path
    file.Write(Runtime.InteropServices.MemoryMarshal.AsBytes(ReadOnlySpan values))

/// The values of a raw little-endian file a peer wrote, or None when it wrote none (it was skipped or failed).
let tryReadRaw<'T when 'T: unmanaged and 'T: struct and 'T :> ValueType and 'T: (new: unit -> 'T)> (path: string) =
    if IO.File.Exists path then
        Some(Runtime.InteropServices.MemoryMarshal.Cast<byte, 'T>(ReadOnlySpan(IO.File.ReadAllBytes path)).ToArray())
    else
        None

/// A fresh scratch folder for the files a benchmark shares with its peer; the caller deletes it.
let scratch (benchmark: string) = IO.Directory.CreateTempSubdirectory($"hybrid-bench-{benchmark}-").FullName
