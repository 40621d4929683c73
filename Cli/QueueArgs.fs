/// The work queue's command lines (`hybrid worker`, `hybrid queue status`), beside Args.fs, which names them.
module Hybrid.Cli.QueueArgs

open Argu
open Hybrid.Analysis
open Hybrid.Cli.Defaults

let private worker = QueueWorker.Options.Of db

type WorkerArgs =
    | [<Mandatory>] Db of location: string
    | Concurrency of int
    | Lease of seconds: int
    | Max_Attempts of int

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Db _ -> "the shared catalog: a postgres:// URI or an Npgsql connection string (its work queue)."
            | Concurrency _ -> $"files extracted at once in this process (default {worker.Concurrency})."
            | Lease _ ->
                $"seconds a claimed file stays this worker's (default {worker.LeaseSeconds}); a worker that dies gives its files back after this."
            | Max_Attempts _ -> $"attempts per file before it is marked failed (default {worker.MaxAttempts})."

type QueueStatusArgs =
    | [<Mandatory>] Db of location: string
    | Watch
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Db _ -> "the shared catalog: a postgres:// URI or an Npgsql connection string."
            | Watch -> "show a progress bar until nothing is pending or running."
            | Json ->
                "print one JSON document {pending, running, done, failed, models, failures: [{path, error}], total}."

type QueueArgs =
    | [<CliPrefix(CliPrefix.None)>] Status of ParseResults<QueueStatusArgs>

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Status _ -> "files done, pending, running and failed in a catalog's work queue, and the failures."
