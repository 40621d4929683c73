/// `hybrid bench extract --db postgres://...`: how fast files reach a shared catalog. The same synthetic safetensors
/// files go into a new SQLite file by one process (hybrid extract), then through the work queue of the PostgreSQL
/// database by 1 and 2 workers (each in a schema of its own, dropped afterwards), so the figures are files per second
/// on identical input; each case notes the rows and bytes one model takes in that store.
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

let private sqliteCase (files: string[]) =
    let dir = Directory.CreateTempSubdirectory("hybrid-bench-catalog-").FullName
    try
        let db = Path.Combine(dir, "one.db")
        let s =
            seconds (fun () ->
                use c = Catalog.openOrCreate db
                Extraction.run c None false (List.ofArray files) ignore |> ignore)
        use c = Catalog.openOrCreate db
        let bytes = float (FileInfo(db).Length + FileInfo(db + "-wal").Length) / float files.Length
        s, $"%.1f{rowsPerModel (Catalog.counts c)} rows and %.0f{bytes} bytes per model"
    finally
        Directory.Delete(dir, true)

let private execute (connection: NpgsqlConnection) (sql: string) =
    use cmd = connection.CreateCommand()
    cmd.CommandText <- sql
    cmd.ExecuteScalar()

/// Files through the queue of a new schema of db by workers claim loops: seconds, and the store's rows and bytes.
let private postgresCase (db: string) (files: string[]) (workers: int) =
    let schema = $"""hybrid_bench_{workers}_{Guid.NewGuid().ToString("N").Substring(0, 8)}"""
    let settings = PostgresCatalog.settings db
    use admin = PostgresCatalog.connect db
    execute admin $"CREATE SCHEMA {schema}" |> ignore
    try
        settings.SearchPath <- schema
        let location = settings.ConnectionString
        (use c = Catalog.openOrCreate location
         WorkQueue.enqueue c None (List.ofArray files) |> ignore)
        let s =
            seconds (fun () ->
                QueueWorker.run { QueueWorker.Options.Of location with Concurrency = workers } ignore |> ignore)
        use c = Catalog.openOrCreate location
        let bytes =
            [ "models"; "nodes"; "edges"; "hierarchy" ]
            |> List.sumBy (fun t -> Convert.ToInt64(execute admin $"SELECT pg_total_relation_size('{schema}.{t}')"))
        s, $"%.1f{rowsPerModel (Catalog.counts c)} rows and %.0f{float bytes / float files.Length} bytes per model"
    finally
        execute admin $"DROP SCHEMA {schema} CASCADE" |> ignore

let private case (name: string) (seconds: float) (peerS: float option) (note: string) : Report.Case =
    { Case = name
      OursS = seconds
      Peer = (if peerS.IsSome then "SQLite, 1 process" else "none")
      PeerS = peerS
      Note = Some note }

/// The three cases on the first files of the synthetic set: SQLite with one process, PostgreSQL with 1 and 2 workers.
let cases (db: string) (files: string[]) =
    Report.progress "extract" $"{files.Length} files into SQLite, then through the queue of {db} with 1 and 2 workers"
    let sqliteS, sqliteNote = sqliteCase files
    let rate (s: float) = float files.Length / s
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
                  $"%.1f{rate s} files/s (%.1f{rate s / float workers} per worker); {note}" ]
