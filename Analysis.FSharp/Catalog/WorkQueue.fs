/// The work queue inside a PostgreSQL catalog: the files to extract, claimed by any number of workers on any number of
/// machines. A claim is a lease (FOR UPDATE SKIP LOCKED, so claimers never wait on each other): a worker that dies
/// leaves its claim to expire and another takes the file again. A file's models and its `done` mark are written in one
/// transaction, and only by the worker that still holds the claim, so every file is catalogued once and no model is
/// ever half written. SQLite catalogs refuse the queue: one file has one writer at a time, so many workers would only
/// wait on each other; `hybrid extract` without a queue is the way to fill one.
module Hybrid.Analysis.WorkQueue

open System
open System.Data.Common
open System.Globalization
open Hybrid.Core.Nn

/// A claimed file: its queue id, path, the task to store with its models, and which attempt this is (1 = first).
type Claim = { Id: int64; Path: string; Task: string option; Attempt: int }

/// A file that failed for good, with its last one-line error.
type Failure = { Path: string; Error: string }

/// How the queue stands: files per state, models stored, and the files that failed for good (the first 20).
type Status =
    { Pending: int64
      Running: int64
      Done: int64
      Failed: int64
      Models: int64
      Failures: Failure list }

    /// Files in the queue.
    member s.Total = s.Pending + s.Running + s.Done + s.Failed

/// What became of a claimed file that extracted.
type Completion =
    /// Stored under these model ids.
    | Stored of int64 list
    /// Content already catalogued (another path with the same bytes), under these ids.
    | Skipped of int64 list
    /// The claim had expired and another worker took the file: nothing was written.
    | Lost

// Milliseconds since the epoch by the server's clock, so that leases of workers on machines whose clocks disagree
// compare on one clock.
let private now = "(extract(epoch from clock_timestamp()) * 1000)::bigint"

let private refusal (location: string) =
    InputException(
        location,
        "the work queue needs a PostgreSQL catalog (--db postgres://...); fill a SQLite file with hybrid extract without --enqueue or --workers"
    )

/// Refuses, before anything is opened or created, a location that is not a PostgreSQL catalog.
let check (location: string) =
    if not (Catalog.isPostgres location) then
        raise (refusal location)

/// The catalog's PostgreSQL connection, or InputException: a SQLite catalog has no queue.
let private postgres (c: ICatalog) =
    match c with
    | :? DbCatalog.DbCatalog as d when d.Db.Dialect.Name = PostgresCatalog.dialect.Name -> d.Db
    | _ -> raise (refusal c.Location)

let private command (db: DbCatalog.Db) (tx: DbTransaction) (sql: string) (parameters: (string * obj) list) =
    let cmd = db.Connection.CreateCommand()
    cmd.Transaction <- tx
    cmd.CommandText <- sql
    for name, value in parameters do
        let p = cmd.CreateParameter()
        p.ParameterName <- name
        p.Value <- (if isNull value then box DBNull.Value else value)
        cmd.Parameters.Add p |> ignore
    cmd

let private optionText (x: string option) = x |> Option.map box |> Option.defaultValue null

let private stamp () = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture)

/// Records files to extract (paths already queued are left as they are) and returns how many were new.
let enqueue (c: ICatalog) (task: string option) (paths: string list) =
    let db = postgres c
    use tx = db.Connection.BeginTransaction()
    let at = stamp ()
    let added =
        paths
        |> List.sumBy (fun p ->
            use cmd =
                command
                    db
                    tx
                    """INSERT INTO work_queue (path, task, state, attempts, enqueued_at)
                       VALUES (@p, @t, 'pending', 0, @at) ON CONFLICT (path) DO NOTHING"""
                    [ "@p", box p; "@t", optionText task; "@at", box at ]
            cmd.ExecuteNonQuery())
    tx.Commit()
    added

/// Claims the next file for worker for leaseSeconds: a pending one, or one whose claim expired. A file whose claim
/// expired after maxAttempts attempts (its worker died each time on it) is marked failed instead of taken again.
let claim (c: ICatalog) (worker: string) (leaseSeconds: int) (maxAttempts: int) =
    let db = postgres c
    use tx = db.Connection.BeginTransaction()
    (use exhausted =
        command
            db
            tx
            $"""UPDATE work_queue SET state = 'failed', worker = NULL, lease_until = NULL, finished_at = @at,
                   error = 'the worker extracting it stopped on each of ' || attempts || ' attempts'
                WHERE state = 'running' AND lease_until < {now} AND attempts >= @max"""
            [ "@at", box (stamp ()); "@max", box maxAttempts ]
     exhausted.ExecuteNonQuery() |> ignore)
    use take =
        command
            db
            tx
            $"""UPDATE work_queue SET state = 'running', attempts = attempts + 1, worker = @w,
                   lease_until = {now} + @lease
                WHERE id = (SELECT id FROM work_queue
                            WHERE state = 'pending' OR (state = 'running' AND lease_until < {now})
                            ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING id, path, task, attempts"""
            [ "@w", box worker; "@lease", box (int64 leaseSeconds * 1000L) ]
    let claimed =
        use r = take.ExecuteReader()
        if r.Read() then
            Some
                { Id = r.GetInt64 0
                  Path = r.GetString 1
                  Task = (if r.IsDBNull 2 then None else Some(r.GetString 2))
                  Attempt = r.GetInt32 3 }
        else
            None
    tx.Commit()
    claimed

/// Marks the claim done, storing its models in the same transaction; a file whose content is already catalogued
/// (looked up under a lock on the hash, so two workers with copies of one file store it once) stores nothing.
let complete
    (c: ICatalog)
    (worker: string)
    (item: Claim)
    (source: ModelSource)
    (archs: Architecture.Architecture list)
    =
    let db = postgres c
    use tx = db.Connection.BeginTransaction()
    use mark =
        command
            db
            tx
            "UPDATE work_queue SET state = 'done' WHERE id = @id AND worker = @w AND state = 'running'"
            [ "@id", box item.Id; "@w", box worker ]
    if mark.ExecuteNonQuery() = 0 then
        tx.Rollback()
        Lost
    else
        (use lock = command db tx "SELECT pg_advisory_xact_lock(hashtextextended(@h, 0))" [ "@h", box source.Hash ]
         lock.ExecuteNonQuery() |> ignore)
        let known =
            use find =
                command db tx "SELECT id FROM models WHERE content_hash = @h ORDER BY id" [ "@h", box source.Hash ]
            use r = find.ExecuteReader()
            [ while r.Read() do
                  r.GetInt64 0 ]
        let outcome =
            if known.IsEmpty then Stored(DbCatalog.insertWithin db tx source item.Task archs) else Skipped known
        let stored =
            match outcome with
            | Stored ids -> ids.Length
            | _ -> 0
        use finish =
            command
                db
                tx
                "UPDATE work_queue SET models = @n, error = NULL, finished_at = @at WHERE id = @id"
                [ "@n", box stored; "@at", box (stamp ()); "@id", box item.Id ]
        finish.ExecuteNonQuery() |> ignore
        tx.Commit()
        outcome

/// Records a failed attempt with its one-line error: the file goes back to pending, or is marked failed after
/// maxAttempts attempts. Returns whether it failed for good.
let fail (c: ICatalog) (worker: string) (item: Claim) (message: string) (maxAttempts: int) =
    let db = postgres c
    use cmd =
        command
            db
            null
            """UPDATE work_queue SET state = CASE WHEN attempts >= @max THEN 'failed' ELSE 'pending' END,
                   worker = NULL, lease_until = NULL, error = @e,
                   finished_at = CASE WHEN attempts >= @max THEN @at END
               WHERE id = @id AND worker = @w AND state = 'running'"""
            [ "@max", box maxAttempts; "@e", box message; "@at", box (stamp ()); "@id", box item.Id; "@w", box worker ]
    cmd.ExecuteNonQuery() |> ignore
    item.Attempt >= maxAttempts

/// Files per state, models stored, and the failed files with their errors (the first 20).
let status (c: ICatalog) =
    let db = postgres c
    let counts =
        use cmd = command db null "SELECT state, count(*), coalesce(sum(models), 0) FROM work_queue GROUP BY state" []
        use r = cmd.ExecuteReader()
        [ while r.Read() do
              r.GetString 0, (r.GetInt64 1, r.GetInt64 2) ]
        |> Map.ofList
    let files state = counts |> Map.tryFind state |> Option.map fst |> Option.defaultValue 0L
    let failures =
        use cmd =
            command
                db
                null
                "SELECT path, coalesce(error, '') FROM work_queue WHERE state = 'failed' ORDER BY id LIMIT 20"
                []
        use r = cmd.ExecuteReader()
        [ while r.Read() do
              { Path = r.GetString 0; Error = r.GetString 1 } ]
    { Pending = files "pending"
      Running = files "running"
      Done = files "done"
      Failed = files "failed"
      Models = counts |> Map.toList |> List.sumBy (snd >> snd)
      Failures = failures }
