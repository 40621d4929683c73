/// `hybrid worker`, `hybrid queue status`, and what `hybrid extract --enqueue | --workers N` does with the queue:
/// record the files, start N local worker processes, watch them drain it.
module Hybrid.Cli.QueueCommand

open System
open System.Diagnostics
open System.Threading
open Argu
open Spectre.Console
open Hybrid.Analysis
open Hybrid.Cli.Console
open Hybrid.Cli.QueueArgs

let private read (db: string) =
    WorkQueue.check db
    use catalog = Catalog.openOrCreate db
    WorkQueue.status catalog

let private summary (db: string) (s: WorkQueue.Status) =
    sprintf
        "%s: %d done, %d pending, %d running, %d failed; %d model(s) stored"
        db
        s.Done
        s.Pending
        s.Running
        s.Failed
        s.Models

let private printStatus (db: string) (s: WorkQueue.Status) =
    if not s.Failures.IsEmpty then
        table [ "failed"; "last error" ] [ for f in s.Failures -> [ f.Path; f.Error ] ]
    printfn "%s" (summary db s)

/// Polls the queue until nothing is pending or running, or stopped says so: a progress bar on a terminal, a line every
/// 10% otherwise.
let private watch (db: string) (stopped: unit -> bool) =
    let err = AnsiConsole.Create(AnsiConsoleSettings(Out = AnsiConsoleOutput(Console.Error)))
    let finished (s: WorkQueue.Status) = s.Pending + s.Running = 0L || stopped ()
    if err.Profile.Capabilities.Interactive && not Console.IsErrorRedirected then
        Progress(err)
            .Columns(TaskDescriptionColumn(), ProgressBarColumn(), PercentageColumn(), RemainingTimeColumn())
            .Start(fun ctx ->
                let bar = ctx.AddTask("extracting", maxValue = 1.0)
                let mutable s = read db
                while not (finished s) do
                    bar.MaxValue <- float (max 1L s.Total)
                    bar.Value <- float (s.Done + s.Failed)
                    bar.Description <- $"{s.Running} running, {s.Failed} failed"
                    Thread.Sleep 500
                    s <- read db
                bar.Value <- bar.MaxValue)
    else
        let line = progressLine "extracting"
        let mutable s = read db
        while not (finished s) do
            line (int (s.Done + s.Failed)) (int s.Total)
            Thread.Sleep 1000
            s <- read db
        line (int (s.Done + s.Failed)) (int s.Total)

/// `hybrid queue status`.
let queue (args: ParseResults<QueueArgs>) =
    match args.GetSubCommand() with
    | Status a ->
        let db = a.GetResult QueueStatusArgs.Db
        if a.Contains Watch then
            watch db (fun () -> false)
        let s = read db
        if a.Contains QueueStatusArgs.Json then printJson s else printStatus db s
        if s.Failed > 0L then 1 else 0

let private describe (e: QueueWorker.Event) =
    match e with
    | QueueWorker.Stored(path, ids) -> $"stored {path} as model(s) {String.Join(',', ids)}"
    | QueueWorker.Skipped(path, ids) -> $"skipped {path}: already catalogued as model {List.head ids}"
    | QueueWorker.Failed(_, message, true) -> $"failed {message}"
    | QueueWorker.Failed(_, message, false) -> $"will retry {message}"
    | QueueWorker.Lost path -> $"gave up {path}: its claim expired and another worker took it"

/// `hybrid worker`: drains the queue, one line per file on stderr, the counts on stdout.
let worker (args: ParseResults<WorkerArgs>) =
    let defaults = QueueWorker.Options.Of(args.GetResult WorkerArgs.Db)
    let options =
        { defaults with
            Concurrency = args.GetResult(Concurrency, defaultValue = defaults.Concurrency)
            LeaseSeconds = args.GetResult(Lease, defaultValue = defaults.LeaseSeconds)
            MaxAttempts = args.GetResult(Max_Attempts, defaultValue = defaults.MaxAttempts) }
    let s = QueueWorker.run options (describe >> note)
    printfn "worker: %d stored, %d skipped, %d failed, %d given up" s.Stored s.Skipped s.Failed s.Lost
    0

/// Records the files under paths in the queue of the catalog at db and says how many were new.
let enqueue (db: string) (task: string option) (recursive: bool) (paths: string list) =
    WorkQueue.check db
    let found = Extraction.discover recursive paths
    for r in found do
        match r with
        | Error(Extraction.Failed(_, message)) -> note message
        | _ -> ()
    // Workers resolve the paths themselves, perhaps on other machines: a file is named by its full path.
    let files =
        found
        |> List.choose (function
            | Ok f when IO.File.Exists f || IO.Directory.Exists f -> Some(IO.Path.GetFullPath f)
            | Ok zoo -> Some zoo
            | Error _ -> None)
    use catalog = Catalog.openOrCreate db
    let added = WorkQueue.enqueue catalog task files
    note $"queued {added} file(s) ({files.Length - added} already in the queue)"
    found |> List.exists Result.isError

/// Runs count `hybrid worker` processes of this very program on the queue of db, watches the queue until they finish,
/// prints its status; exit code 1 when a worker failed or a file failed for good.
let runWorkers (db: string) (count: int) =
    if count < 1 then
        Input.fail "extract: --workers %d must be at least 1" count
    // Run as `dotnet hybrid.dll` the process is dotnet and the program its first argument; as an apphost, itself.
    let host = Environment.ProcessPath
    let prefix =
        if IO.Path.GetFileNameWithoutExtension host = "dotnet" then
            [ Reflection.Assembly.GetEntryAssembly().Location ]
        else
            []
    let workers =
        [ for _ in 1..count ->
              let info = ProcessStartInfo(host, RedirectStandardError = true, RedirectStandardOutput = true)
              for a in prefix @ [ "worker"; "--db"; db ] do
                  info.ArgumentList.Add a
              let p = Process.Start info
              // Drained so that a full pipe never blocks a worker; its failures show in the queue's status.
              p.ErrorDataReceived.Add ignore
              p.OutputDataReceived.Add ignore
              p.BeginErrorReadLine()
              p.BeginOutputReadLine()
              p ]
    watch db (fun () -> workers |> List.forall _.HasExited)
    for p in workers do
        p.WaitForExit()
    let s = read db
    printStatus db s
    if s.Failed > 0L || workers |> List.exists (fun p -> p.ExitCode <> 0) then 1 else 0
