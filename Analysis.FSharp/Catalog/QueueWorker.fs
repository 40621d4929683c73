/// `hybrid worker`: claims files from a catalog's work queue (WorkQueue), extracts them and stores each file's models
/// in the transaction that marks it done, until the queue holds nothing pending or running. Several loops run in one
/// process, each on its own connection; a lost connection (the server restarting) is waited out and the loop goes on
/// where it was, since an unfinished transaction left nothing behind and the claim comes back when its lease expires.
module Hybrid.Analysis.QueueWorker

open System
open System.Diagnostics
open System.Threading
open Npgsql
open Hybrid.Core.Nn

/// How a worker runs.
type Options =
    {
        /// The catalog (a PostgreSQL location).
        Db: string
        /// Claim loops in this process.
        Concurrency: int
        /// How long a claim lasts: longer than the slowest file's extraction, short enough that a dead worker's file
        /// is soon taken again.
        LeaseSeconds: int
        /// Attempts per file before it is marked failed.
        MaxAttempts: int
        /// How long a lost server is waited for before the worker gives up.
        PatienceSeconds: int
    }

    /// One loop, a 5-minute lease, 3 attempts, 2 minutes of patience.
    static member Of(db: string) =
        { Db = db; Concurrency = 1; LeaseSeconds = 300; MaxAttempts = 3; PatienceSeconds = 120 }

/// What one claimed file came to, as the worker reports it.
type Event =
    | Stored of path: string * ids: int64 list
    | Skipped of path: string * ids: int64 list
    | Failed of path: string * message: string * final: bool
    | Lost of path: string

/// Counts of a finished worker.
type Summary = { Stored: int; Skipped: int; Failed: int; Lost: int }

// A lost connection or a server going down; a server-reported error about the data is not one.
let rec private isConnectionLoss (e: exn) =
    match e with
    | :? NpgsqlException as n -> n.IsTransient || not (n :? PostgresException)
    | :? InputException as i when not (isNull i.InnerException) -> isConnectionLoss i.InnerException
    | _ -> false

/// Hashes and extracts one file: its source and models, or the one-line error.
let private extract (path: string) =
    try
        let hash = Extraction.contentHash path
        match Extract.fromPath path with
        | [] -> Error $"{path}: holds no model"
        | archs -> Ok({ ModelSource.Path = path; ModelSource.Hash = hash }, archs)
    with e ->
        Error(Extraction.describe path e)

/// One claim loop on its own connection, reporting each file through report, until the queue is drained.
let private loop (options: Options) (name: string) (report: Event -> unit) =
    let mutable catalog: ICatalog option = None
    let connected () =
        match catalog with
        | Some c -> c
        | None ->
            let c = Catalog.openOrCreate options.Db
            catalog <- Some c
            c
    let drop () =
        catalog
        |> Option.iter (fun c ->
            try
                c.Dispose()
            with _ ->
                ())
        catalog <- None
        NpgsqlConnection.ClearAllPools()
    let mutable lostSince: Stopwatch option = None
    let mutable finished = false
    try
        while not finished do
            try
                let c = connected ()
                lostSince <- None
                match WorkQueue.claim c name options.LeaseSeconds options.MaxAttempts with
                | Some item ->
                    match extract item.Path with
                    | Ok(source, archs) ->
                        let event =
                            try
                                match WorkQueue.complete c name item source archs with
                                | WorkQueue.Stored ids -> Stored(item.Path, ids)
                                | WorkQueue.Skipped ids -> Skipped(item.Path, ids)
                                | WorkQueue.Lost -> Lost item.Path
                            with :? PostgresException as e when not (isConnectionLoss e) ->
                                let message = $"{item.Path}: storing it: {e.MessageText}"
                                Failed(item.Path, message, WorkQueue.fail c name item message options.MaxAttempts)
                        report event
                    | Error message ->
                        report (Failed(item.Path, message, WorkQueue.fail c name item message options.MaxAttempts))
                | None ->
                    let s = WorkQueue.status c
                    if s.Pending + s.Running = 0L then finished <- true else Thread.Sleep 200
            with e when isConnectionLoss e ->
                drop ()
                let since = lostSince |> Option.defaultWith Stopwatch.StartNew
                lostSince <- Some since
                if since.Elapsed.TotalSeconds > float options.PatienceSeconds then
                    raise (
                        InputException(
                            options.Db |> PostgresCatalog.settings |> PostgresCatalog.describe,
                            $"lost the catalog server for {options.PatienceSeconds} s: {e.Message}",
                            e
                        )
                    )
                Thread.Sleep 500
    finally
        drop ()

/// Runs options.Concurrency claim loops until the queue holds nothing pending or running, reporting every file (from
/// any loop, one at a time) and returning the counts. A SQLite catalog is refused (see WorkQueue).
let run (options: Options) (report: Event -> unit) =
    if options.Concurrency < 1 || options.LeaseSeconds < 1 || options.MaxAttempts < 1 then
        Input.fail "worker: --concurrency, --lease and --max-attempts must be at least 1"
    // Refuses a SQLite catalog, or a server that cannot be reached, before any loop starts.
    WorkQueue.check options.Db
    (use c = Catalog.openOrCreate options.Db
     WorkQueue.status c |> ignore)
    let gate = obj ()
    let mutable summary = { Stored = 0; Skipped = 0; Failed = 0; Lost = 0 }
    let count (e: Event) =
        lock gate (fun () ->
            summary <-
                match e with
                | Stored _ -> { summary with Stored = summary.Stored + 1 }
                | Skipped _ -> { summary with Skipped = summary.Skipped + 1 }
                | Failed(_, _, true) -> { summary with Failed = summary.Failed + 1 }
                | Failed _ -> summary
                | Lost _ -> { summary with Lost = summary.Lost + 1 }
            report e)
    let host = Environment.MachineName
    let pid = Environment.ProcessId
    let threads =
        [ for i in 1 .. options.Concurrency ->
              let name = $"""{host}:{pid}:{i}:{Guid.NewGuid().ToString("N").Substring(0, 8)}"""
              let failure = ref None
              let t =
                  Thread(
                      (fun () ->
                          try
                              loop options name count
                          with e ->
                              failure.Value <- Some e),
                      IsBackground = true
                  )
              t.Start()
              t, failure ]
    for t, _ in threads do
        t.Join()
    match threads |> List.tryPick (fun (_, f) -> f.Value) with
    | Some(:? InputException as e) -> raise e
    | Some e -> raise (AggregateException("worker", e))
    | None -> summary
