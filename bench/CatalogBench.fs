/// `hybrid bench extract --db postgres://...`: how fast files reach a shared catalog, and what bounds it. The same
/// synthetic safetensors files go into a new SQLite file by one process (hybrid extract), then through the work queue
/// of the PostgreSQL database by 1 and 2 workers (each in a schema of its own, dropped afterwards), so the figures are
/// files per second on identical input; each case notes the rows and bytes one model takes in that store. Two more
/// cases take a file's cost apart: the content hash alone (SHA-256 of every byte, which dedup needs), and the store
/// alone (the same architectures, extracted beforehand, inserted by 1 and 2 writers), which is the write rate a
/// shared server gives before the workers' reading and hashing count.
module Hybrid.Bench.CatalogBench

open System
open System.Diagnostics
open System.IO
open Npgsql
open Hybrid.Analysis

let private seconds (work: unit -> unit) =
    let clock = Stopwatch.StartNew()
    work ()
    clock.Elapsed.TotalSeconds

let private rowsPerModel (counts: Map<string, int64>) =
    float (counts["models"] + counts["nodes"] + counts["edges"] + counts["hierarchy"]) / float counts["models"]

/// Runs work on the path of a new SQLite catalog in a scratch folder, removed afterwards.
let private inNewSqliteFile (work: string -> 'a) =
    let dir = Data.scratch "catalog"
    try
        work (Path.Combine(dir, "catalog.db"))
    finally
        Directory.Delete(dir, true)

let private sqliteCase (files: string[]) =
    inNewSqliteFile (fun db ->
        let s =
            seconds (fun () ->
                use c = Catalog.openOrCreate db
                Extraction.run c None false (List.ofArray files) ignore |> ignore)
        use c = Catalog.openOrCreate db
        let bytes = float (FileInfo(db).Length + FileInfo(db + "-wal").Length) / float files.Length
        s, $"%.1f{rowsPerModel (Catalog.counts c)} rows and %.0f{bytes} bytes per model")

let private execute (connection: NpgsqlConnection) (sql: string) =
    use cmd = connection.CreateCommand()
    cmd.CommandText <- sql
    cmd.ExecuteScalar()

/// Runs work on a catalog in a new schema of db (dropped afterwards): its seconds, and the store's rows and bytes.
let private inNewSchema (db: string) (tag: string) (models: int) (work: string -> unit) =
    let schema = $"""hybrid_bench_{tag}_{Guid.NewGuid().ToString("N").Substring(0, 8)}"""
    let settings = PostgresCatalog.settings db
    use admin = PostgresCatalog.connect db
    execute admin $"CREATE SCHEMA {schema}" |> ignore
    try
        settings.SearchPath <- schema
        let location = settings.ConnectionString
        (use _ = Catalog.openOrCreate location
         ())
        let s = seconds (fun () -> work location)
        use c = Catalog.openOrCreate location
        let bytes =
            [ "models"; "nodes"; "edges"; "hierarchy" ]
            |> List.sumBy (fun t -> Convert.ToInt64(execute admin $"SELECT pg_total_relation_size('{schema}.{t}')"))
        s, $"%.1f{rowsPerModel (Catalog.counts c)} rows and %.0f{float bytes / float models} bytes per model"
    finally
        execute admin $"DROP SCHEMA {schema} CASCADE" |> ignore

/// Files through the queue of a new schema of db by workers claim loops.
let private postgresCase (db: string) (files: string[]) (workers: int) =
    inNewSchema db $"queue{workers}" files.Length (fun location ->
        (use c = Catalog.openOrCreate location
         WorkQueue.enqueue c None (List.ofArray files) |> ignore)
        QueueWorker.run { QueueWorker.Options.Of location with Concurrency = workers } ignore |> ignore)

/// Inserts the models into the catalog at location, split between writers threads with a connection each: every
/// model in its own transaction, as extraction stores it, under a made-up content hash (nothing is read or hashed).
let private insertModels (writers: int) (models: (string * Architecture.Architecture list)[]) (location: string) =
    Threading.Tasks.Parallel.For(
        0,
        writers,
        Threading.Tasks.ParallelOptions(MaxDegreeOfParallelism = writers),
        fun w ->
            use c = Catalog.openOrCreate location
            for i in w..writers .. models.Length - 1 do
                let path, archs = models[i]
                Catalog.insertAll c { Path = path; Hash = $"bench-{i}" } None archs |> ignore
    )
    |> ignore

/// The store alone: the models into a new SQLite file by one writer.
let private sqliteStoreCase (models: (string * Architecture.Architecture list)[]) =
    inNewSqliteFile (fun db -> seconds (fun () -> insertModels 1 models db))

/// SHA-256 of each file's every byte, on one thread: what Extraction.contentHash costs per file.
let private hashCase (files: string[]) =
    let bytes = files |> Array.sumBy (fun f -> FileInfo(f).Length)
    let s =
        seconds (fun () ->
            for f in files do
                Extraction.contentHash f |> ignore)
    s,
    $"%.1f{float files.Length / s} files/s, %.0f{float bytes / s / 1e6} MB/s on one core (%.0f{float bytes / float files.Length / 1e6} MB per file)"

let private case (name: string) (seconds: float) (peerS: float option) (note: string) : Report.Case =
    { Case = name
      OursS = seconds
      Peer = (if peerS.IsSome then "SQLite, 1 process" else "none")
      PeerS = peerS
      Note = Some note }

/// The cases on the first files of the synthetic set: SQLite with one process, PostgreSQL with 1 and 2 workers; the
/// content hash alone on a tenth of them; the store alone, SQLite with one writer, PostgreSQL with 1 and 2.
let cases (db: string) (files: string[]) =
    Report.progress "extract" $"{files.Length} files into SQLite, then through the queue of {db} with 1 and 2 workers"
    let sqliteS, sqliteNote = sqliteCase files
    let rate (s: float) = float files.Length / s
    let hashed = files[.. max 0 (files.Length / 10 - 1)]
    let hashS, hashNote = hashCase hashed
    let models = files |> Array.Parallel.map (fun f -> f, Extract.fromPath f)
    let sqliteStoreS = sqliteStoreCase models
    [ yield
          case
              $"catalog: SQLite, hybrid extract (1 process), {files.Length} safetensors headers"
              sqliteS
              None
              $"%.1f{rate sqliteS} files/s; {sqliteNote}"
      for workers in [ 1; 2 ] do
          let s, note = postgresCase db files workers
          yield
              case
                  $"catalog: PostgreSQL, {workers} worker(s), {files.Length} safetensors headers"
                  s
                  (Some sqliteS)
                  $"%.1f{rate s} files/s (%.1f{rate s / float workers} per worker); {note}"
      yield case $"content hash alone (SHA-256), {hashed.Length} files" hashS None hashNote
      yield
          case
              $"store alone: SQLite, 1 writer, {files.Length} models"
              sqliteStoreS
              None
              $"%.0f{rate sqliteStoreS} models/s"
      for writers in [ 1; 2 ] do
          let s, note = inNewSchema db $"store{writers}" files.Length (insertModels writers models)
          yield
              case
                  $"store alone: PostgreSQL, {writers} writer(s), {files.Length} models"
                  s
                  (Some sqliteStoreS)
                  $"%.0f{rate s} models/s; {note}" ]
