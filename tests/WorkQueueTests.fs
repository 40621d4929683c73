/// The work queue of a PostgreSQL catalog: enqueueing, failures recorded and retried a bounded number of times, SQLite
/// refusing the queue in one line, local worker processes; and the fault test: three workers on 2,000 synthetic
/// safetensors headers plus the real models of ../shared, one killed with SIGKILL and the server restarted while
/// they run (on a server of its own, so that the restart disturbs no other test and it need not run alone), must
/// catalogue every file exactly once, leave no model with a partial set of nodes or edges, and give the counts of one
/// single-process SQLite run over the same files.
module Hybrid.Tests.WorkQueueTests

open System
open System.Diagnostics
open System.IO
open System.Threading
open Expecto
open Hybrid.Analysis

let private status (db: string) =
    use c = Catalog.openOrCreate db
    WorkQueue.status c

let private scalar (db: string) (sql: string) =
    use c = new Npgsql.NpgsqlConnection(db)
    c.Open()
    use cmd = c.CreateCommand()
    cmd.CommandText <- sql
    Convert.ToInt64(cmd.ExecuteScalar())

/// The architecture tables' row counts of a catalog.
let private counts (db: string) =
    use c = Catalog.openOrCreate db
    Catalog.counts c |> Map.remove "dedup"

/// `hybrid worker` as a process of its own.
let private startWorker (db: string) (flags: string list) =
    let info = ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true)
    for a in [ CliTests.cliDll; "worker"; "--db"; db ] @ flags do
        info.ArgumentList.Add a
    let p = Process.Start info
    p.OutputDataReceived.Add ignore
    p.ErrorDataReceived.Add ignore
    p.BeginOutputReadLine()
    p.BeginErrorReadLine()
    p

/// Waits until condition holds, failing the test after seconds.
let private waitFor (seconds: int) (what: string) (condition: unit -> bool) =
    let clock = Stopwatch.StartNew()
    while not (condition ()) do
        if clock.Elapsed.TotalSeconds > float seconds then
            failtestf "%s did not happen within %d s" what seconds
        Thread.Sleep 100

/// Models whose stored node or edge rows differ from the counts recorded with them: a partial write.
let private partialModels (db: string) =
    scalar
        db
        """SELECT count(*) FROM models m
           WHERE m.node_count <> (SELECT count(*) FROM nodes n WHERE n.model_id = m.id)
              OR m.edge_count <> (SELECT count(*) FROM edges e WHERE e.model_id = m.id)"""

let private queueTests =
    [ testWithTempFile "a SQLite catalog refuses the queue in one line and is left unwritten" "c.db" (fun db ->
          let model = sharedFile "data/torchvision-architectures/resnet18.onnx"
          for args in [ [ "extract"; model; "--enqueue" ]; [ "extract"; model; "--workers"; "2" ]; [ "worker" ] ] do
              let code, out, err = CliTests.runCli (args @ [ "--db"; db ])
              Expect.equal code 1 $"exit code (stderr: {err})"
              Expect.equal out "" "nothing on stdout"
              Expect.equal (err.Trim().Split('\n').Length) 1 $"one line: {err}"
              Expect.stringContains err "the work queue needs a PostgreSQL catalog" "says why"
          Expect.equal (counts db).["models"] 0L "no model stored")
      testInTempDir "a failing file is recorded with its error and tried at most --max-attempts times" (fun dir ->
          let db = freshPostgresDatabase ()
          let bad = Path.Combine(dir, "bad.onnx")
          File.WriteAllBytes(bad, [| 1uy; 2uy; 3uy; 0xFFuy |])
          let good = sharedFile "data/torchvision-architectures/squeezenet1_1.onnx"
          let code, _, err = CliTests.runCli [ "extract"; bad; good; "--db"; db; "--enqueue" ]
          Expect.equal code 0 $"enqueue (stderr: {err})"
          Expect.stringContains err "queued 2 file(s)" "both queued"
          let _, _, err = CliTests.runCli [ "extract"; good; "--db"; db; "--enqueue" ]
          Expect.stringContains err "queued 0 file(s) (1 already in the queue)" "a file is queued once"
          let code, out, err = CliTests.runCli [ "worker"; "--db"; db; "--max-attempts"; "2"; "--concurrency"; "2" ]
          Expect.equal code 0 $"worker (stderr: {err})"
          Expect.stringContains out "1 stored, 0 skipped, 1 failed" "the summary"
          Expect.stringContains err $"will retry {bad}" "the first failure is retried"
          let s = status db
          Expect.equal (s.Done, s.Failed, s.Pending, s.Running) (1L, 1L, 0L, 0L) "one done, one failed"
          match s.Failures with
          | [ f ] ->
              Expect.equal f.Path bad "the bad file"
              Expect.stringContains f.Error "bad.onnx" "its one-line error names it"
              Expect.isFalse (f.Error.Contains "\n") "one line"
          | other -> failtestf "expected one failure, got %A" other
          Expect.equal (scalar db "SELECT attempts FROM work_queue WHERE state = 'failed'") 2L "tried twice"
          let code, out, _ = CliTests.runCli [ "queue"; "status"; "--db"; db ]
          Expect.equal code 1 "status: a failed file gives exit code 1"
          Expect.stringContains out "1 done, 0 pending, 0 running, 1 failed; 1 model(s) stored" "status line"
          let _, json, _ = CliTests.runCli [ "queue"; "status"; "--db"; db; "--json" ]
          use doc = parseJson json
          Expect.equal (doc.RootElement.GetProperty("done").GetInt64()) 1L "--json: done"
          let failure = doc.RootElement.GetProperty("failures").[0]
          Expect.equal (failure.GetProperty("path").GetString()) bad "--json: failure")
      test "hybrid extract --workers 2 catalogues a folder like a plain extract into SQLite" {
          let db = freshPostgresDatabase ()
          let corpus = sharedPath "data/torchvision-architectures"
          let code, out, err = CliTests.runCli [ "extract"; corpus; "--db"; db; "--workers"; "2" ]
          Expect.equal code 0 $"exit code (stderr: {err})"
          let files = Directory.GetFiles(corpus, "*.onnx").Length
          Expect.stringContains out $"{files} done, 0 pending, 0 running, 0 failed" "the queue's status"
          withTempDir (fun dir ->
              let sqlite = Path.Combine(dir, "one.db")
              let code, _, err = CliTests.runCli [ "extract"; corpus; "--db"; sqlite ]
              Expect.equal code 0 $"sqlite extract (stderr: {err})"
              Expect.equal (counts db) (counts sqlite) "rows per table")
      } ]

let private faultTest =
    testInTempDir
        "3 workers, one killed with SIGKILL, the server restarted: every file once, no partial model"
        (fun dir ->
            let synthetic = Directory.CreateDirectory(Path.Combine(dir, "synthetic")).FullName
            Hybrid.Bench.ExtractBench.writeSynthetic synthetic 2000 |> ignore
            let folders = [ synthetic; sharedPath "models/cifar10-resnet20"; sharedPath "models/cifar10-resnet32" ]
            let files = Extraction.discover false folders |> List.length
            let server = startServer ()
            let db = freshDatabaseOn server
            let code, _, err = CliTests.runCli ([ "extract" ] @ folders @ [ "--db"; db; "--enqueue" ])
            Expect.equal code 0 $"enqueue (stderr: {err})"
            // A lease short enough that the killed worker's file comes back while half of the queue is still to do,
            // and longer than any one file takes on a loaded machine: with 3 s, the first file (the JIT and a ResNet-50
            // trace in every worker) outlived its claim three times at load 700 and was marked failed.
            let workers = [ for _ in 1..3 -> startWorker db [ "--lease"; "60" ] ]
            let finished () = (status db).Done
            waitFor 900 "a quarter of the files done" (fun () -> finished () >= int64 (files / 4))
            workers.Head.Kill()
            waitFor 900 "half of the files done" (fun () -> finished () >= int64 (files / 2))
            restartServer server
            // This process's pooled connections died with the server.
            Npgsql.NpgsqlConnection.ClearAllPools()
            for w in workers.Tail do
                Expect.isTrue (w.WaitForExit 900_000) "a surviving worker finishes"
                Expect.equal w.ExitCode 0 "and exits 0"
            let s = status db
            Expect.equal (s.Done, s.Failed, s.Pending, s.Running) (int64 files, 0L, 0L, 0L) "every file done"
            Expect.isGreaterThanOrEqual files 2000 "at least 2,000 files"
            Expect.equal (scalar db "SELECT count(DISTINCT source_path) FROM models") (int64 files) "every file stored"
            Expect.equal (scalar db "SELECT count(*) FROM models") (int64 files) "each once (one model per file)"
            Expect.equal (partialModels db) 0L "no model with a partial set of nodes or edges"
            let sqlite = Path.Combine(dir, "one.db")
            (use c = Catalog.openOrCreate sqlite
             Extraction.run c None false folders ignore |> ignore)
            Expect.equal (counts db) (counts sqlite) "rows per table equal one single-process SQLite run"
            stopServer server)

// One sequenced group, so that the fault test (minutes, mostly its worker processes' hashing) starts first, beside the
// rest of the suite (Expecto starts groups before single tests), and the short queue tests follow it in its slot.
[<Tests>]
let tests =
    testSequencedGroup
        "work queue"
        (testList "work queue" [ testList "faults" [ faultTest ]; testList "postgresql" queueTests ])
