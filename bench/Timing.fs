/// How every benchmark, ours and the Python peers alike, turns repeated runs into one number of seconds.
/// The peers receive the same policy on their command line (see peers/bench_timing.py), so both sides
/// warm up, repeat and summarise identically.
module Hybrid.Bench.Timing

open System.Diagnostics
open Hybrid.Core.Gpu

/// Warm-up runs are not timed (they pay for JIT, first-touch page faults, kernel compilation and caches).
/// Then the action repeats until it has run MinRepeats times and the timed runs add up to Seconds,
/// or until MaxRepeats runs, whichever comes first.
type Policy = { Warmup: int; MinRepeats: int; MaxRepeats: int; Seconds: float }

/// For numbers worth reporting: enough repeats that some run escapes the noise (a GC, a descheduled thread).
let standard = { Warmup = 1; MinRepeats = 3; MaxRepeats = 30; Seconds = 2.0 }

/// For demos and smoke tests: one warm-up, then a handful of runs within a quarter of a second.
let quick = { Warmup = 1; MinRepeats = 1; MaxRepeats = 5; Seconds = 0.25 }

/// Fastest seconds of one run of action under the policy. The minimum, not the median or the mean: noise only ever
/// adds time, and on a shared virtual machine a stalled thread adds 50-300 ms to a third or more of the runs of a
/// multi-threaded kernel (measured here with PyTorch on 2 cores), enough to move the median.
let measure (policy: Policy) (action: unit -> unit) =
    if policy.MinRepeats < 1 || policy.MaxRepeats < policy.MinRepeats then
        invalidArg (nameof policy) $"need 1 <= MinRepeats <= MaxRepeats, got {policy}"
    for _ in 1 .. policy.Warmup do
        action ()
    let rec loop samples count total =
        if count >= policy.MaxRepeats || (count >= policy.MinRepeats && total >= policy.Seconds) then
            samples
        else
            let clock = Stopwatch.StartNew()
            action ()
            let s = clock.Elapsed.TotalSeconds
            loop (s :: samples) (count + 1) (total + s)
    List.min (loop [] 0 0.0)

/// Fastest seconds of work on device: asynchronous devices (ILGPU) only queue kernels, so the clock stops
/// after the device has drained its queue, not when the launches return.
let measureOn (device: Device) (policy: Policy) (work: unit -> unit) =
    measure policy (fun () ->
        work ()
        device.Synchronize())

/// The policy as the command-line options the Python peers parse.
let toArgs (policy: Policy) =
    [ "--warmup"
      string policy.Warmup
      "--min-repeats"
      string policy.MinRepeats
      "--max-repeats"
      string policy.MaxRepeats
      "--seconds"
      policy.Seconds.ToString System.Globalization.CultureInfo.InvariantCulture ]
