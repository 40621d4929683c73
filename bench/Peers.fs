/// Running a peer: a Python script under peers/ that times the same cases with NumPy or PyTorch and prints
/// a JSON list [{"case": ..., "seconds": ..., "value": ...}]; "value" (optional) is the peer's numeric result for the
/// case (a lower bound, a CKA value), which the benchmark compares with ours. A peer that cannot run is skipped with a note saying how to
/// install what it lacks; the benchmark still reports our own times.
module Hybrid.Bench.Peers

open System
open System.Collections.Generic
open System.ComponentModel
open System.Diagnostics
open System.IO
open System.Text.Json
open Hybrid.Bench.Report

/// A peer script (a file name under peers/) and the Debian packages it needs, for the note when it cannot run.
type Peer = { Script: string; Packages: string list }

/// What the peer reported for one case.
type PeerCase = { Seconds: float; Value: float option }

type Outcome =
    /// The peer's report per case name.
    | Timed of Map<string, PeerCase>
    /// The peer did not run; the note says why, and how to fix it.
    | Skipped of note: string

/// Debian's interpreter, which python3-numpy and python3-torch install into; the python3 first on PATH
/// may be another one without them.
let python = "/usr/bin/python3"

/// The peers are copied next to the assembly, so this works from the bench's and from the CLI's output folder.
let directory () = Path.Combine(AppContext.BaseDirectory, "peers")

let private install (peer: Peer) = $"""apt-get install -y {String.Join(" ", peer.Packages)}"""

/// The note for a peer that failed: its exit code and the last line of its standard error.
let private failure (peer: Peer) (exitCode: int) (stderr: string) =
    let last =
        stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries) |> Array.tryLast |> Option.defaultValue "no output"
    $"peer skipped: {peer.Script} failed with exit code {exitCode}: {last.Trim()}"

/// Reads a peer's standard output: a list of timings, or {"error": ...} when an import failed.
let private parse (peer: Peer) (exitCode: int) (stdout: string) (stderr: string) =
    let failed () = Skipped(failure peer exitCode stderr)
    // A field that is not a string fails like malformed JSON does.
    let text (e: JsonElement) =
        match e.GetString() with
        | null -> raise (JsonException "expected a string")
        | s -> s
    try
        use json = JsonDocument.Parse stdout
        let root = json.RootElement
        match root.ValueKind with
        | JsonValueKind.Object when root.TryGetProperty("error") |> fst ->
            Skipped $"""peer skipped: {text (root.GetProperty "error")}"""
        | JsonValueKind.Array when exitCode = 0 ->
            root.EnumerateArray()
            |> Seq.map (fun e ->
                let value =
                    match e.TryGetProperty "value" with
                    | true, v when v.ValueKind = JsonValueKind.Number -> Some(v.GetDouble())
                    | _ -> None
                text (e.GetProperty "case"), { Seconds = e.GetProperty("seconds").GetDouble(); Value = value })
            |> Map.ofSeq
            |> Timed
        | _ -> failed ()
    with
    | :? JsonException
    | :? InvalidOperationException
    | :? KeyNotFoundException -> failed ()

/// Runs peers/<script> with the given interpreter and arguments, waiting for it to finish: its exit code, standard
/// output and standard error, or the note saying why it could not start.
let private execute (interpreter: string) (peer: Peer) (args: string list) =
    let script = Path.Combine(directory (), peer.Script)
    if not (File.Exists interpreter) then
        Error $"peer skipped: {interpreter} is missing ({install peer})"
    elif not (File.Exists script) then
        Error $"peer skipped: {script} is missing (is bench/peers copied to the output folder?)"
    else
        let start =
            ProcessStartInfo(
                interpreter,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false
            )
        start.ArgumentList.Add script
        args |> List.iter start.ArgumentList.Add
        try
            match Process.Start start with
            | null -> Error $"peer skipped: {interpreter} did not start ({install peer})"
            | proc ->
                use proc = proc
                // Both pipes are drained concurrently: a peer that fills one while we block on the other would hang.
                let stdout = proc.StandardOutput.ReadToEndAsync()
                let stderr = proc.StandardError.ReadToEndAsync()
                proc.WaitForExit()
                Ok(proc.ExitCode, stdout.Result, stderr.Result)
        with :? Win32Exception as e ->
            Error $"peer skipped: cannot start {interpreter}: {e.Message} ({install peer})"

/// Runs peers/<script> with the given interpreter and arguments, waiting for it to finish, and reads its timings.
let runWith (interpreter: string) (peer: Peer) (args: string list) =
    match execute interpreter peer args with
    | Ok(exitCode, stdout, stderr) -> parse peer exitCode stdout stderr
    | Error note -> Skipped note

/// Runs peers/<script> with Debian's /usr/bin/python3.
let run (peer: Peer) (args: string list) = runWith python peer args

/// Runs a peer that times what ours timed on seeded data: its own arguments, then the timing policy and the benchmark
/// seed, which such a peer parses after them.
let runTimed (peer: Peer) (timing: Timing.Policy) (args: string list) =
    run peer (args @ Timing.toArgs timing @ [ "--seed"; string Data.seed ])

/// Runs peers/<script> with Debian's /usr/bin/python3 for a report other than timings: its standard output when it
/// exits with code 0, or the note saying why there is none.
let runForOutput (peer: Peer) (args: string list) =
    match execute python peer args with
    | Ok(0, stdout, _) -> Ok stdout
    | Ok(exitCode, _, stderr) -> Error(failure peer exitCode stderr)
    | Error note -> Error note

/// Our time for a case next to the peer's, or next to the note saying why there is none.
let toCase (peerName: string) (outcome: Outcome) (name: string) (oursS: float) =
    let peerS, note =
        match outcome with
        | Timed seconds ->
            match Map.tryFind name seconds with
            | Some s -> Some s.Seconds, None
            | None -> None, Some $"peer skipped: {peerName} reported no time for '{name}'"
        | Skipped note -> None, Some note
    { Case = name; OursS = oursS; Peer = peerName; PeerS = peerS; Note = note }

/// The numeric result the peer reported for a case, when it ran and reported one.
let value (outcome: Outcome) (name: string) =
    match outcome with
    | Timed cases -> Map.tryFind name cases |> Option.bind _.Value
    | Skipped _ -> None
