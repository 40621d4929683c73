/// Work shared out over threads whose results, and failures, come back in index order: the same answer, and the same
/// error, on any number of cores.
module Hybrid.Analysis.InOrder

open System.Runtime.ExceptionServices
open System.Threading.Tasks

/// Runs work 0 .. count - 1 on up to `threads` threads and hands each result to report in index order, as soon as it
/// and those before it are done (one report at a time). A failure is raised once every item has ended: the first by
/// index, as it was thrown.
let run (threads: int) (count: int) (work: int -> 'a) (report: 'a -> unit) =
    let results: Result<'a, exn> option[] = Array.create count None
    let gate = obj ()
    let reported = ref 0
    let options = ParallelOptions(MaxDegreeOfParallelism = threads)
    Parallel.For(
        0,
        count,
        options,
        fun i ->
            let r =
                try
                    Ok(work i)
                with e ->
                    Error e
            lock gate (fun () ->
                results[i] <- Some r
                while reported.Value < count && results[reported.Value].IsSome do
                    match results[reported.Value].Value with
                    | Ok v -> report v
                    | Error _ -> ()
                    reported.Value <- reported.Value + 1)
    )
    |> ignore
    results
    |> Array.map (fun r ->
        match r.Value with
        | Ok v -> v
        | Error e ->
            ExceptionDispatchInfo.Capture(e).Throw()
            Unchecked.defaultof<'a>)

/// work 0 .. count - 1 on every core, the results in index order; a failure is raised as `run` raises it.
let map (count: int) (work: int -> 'a) = run System.Environment.ProcessorCount count work ignore
