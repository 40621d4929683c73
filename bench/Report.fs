/// What a benchmark hands back: one row per case, our time against a peer's, as JSON or as a console table.
module Hybrid.Bench.Report

open System
open System.IO
open System.Text
open System.Text.Encodings.Web
open System.Text.Json
open Spectre.Console

/// One measured case. PeerS is None when the peer was skipped or does not cover the case; Note says why.
type Case = { Case: string; OursS: float; Peer: string; PeerS: float option; Note: string option }

type Report = { Benchmark: string; Device: string; Cores: int; Cases: Case list }

/// How many times faster we are than the peer (above 1: faster).
let speedup (case: Case) = case.PeerS |> Option.map (fun peer -> peer / case.OursS)

/// The report as one JSON document:
/// {"benchmark", "device", "cores", "cases": [{"case", "ours_s", "peer", "peer_s", "speedup", "note"}]},
/// with null for a missing peer time, speedup or note.
/// Relaxed escaping keeps '+' and 'µ' readable; the document goes to a terminal or a file, never into HTML.
let toJson (report: Report) =
    use buffer = new MemoryStream()
    (use w =
        new Utf8JsonWriter(
            buffer,
            JsonWriterOptions(Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping)
        )
     let optionalNumber (name: string) (value: float option) =
         match value with
         | Some v -> w.WriteNumber(name, v)
         | None -> w.WriteNull name
     w.WriteStartObject()
     w.WriteString("benchmark", report.Benchmark)
     w.WriteString("device", report.Device)
     w.WriteNumber("cores", report.Cores)
     w.WriteStartArray "cases"
     for case in report.Cases do
         w.WriteStartObject()
         w.WriteString("case", case.Case)
         w.WriteNumber("ours_s", case.OursS)
         w.WriteString("peer", case.Peer)
         optionalNumber "peer_s" case.PeerS
         optionalNumber "speedup" (speedup case)
         match case.Note with
         | Some note -> w.WriteString("note", note)
         | None -> w.WriteNull "note"
         w.WriteEndObject()
     w.WriteEndArray()
     w.WriteEndObject())
    Encoding.UTF8.GetString(buffer.ToArray())

/// Seconds in the unit that keeps three significant digits readable.
let formatSeconds (s: float) =
    if s >= 1.0 then $"%.3f{s} s"
    elif s >= 1e-3 then $"%.3f{s * 1e3} ms"
    else $"%.1f{s * 1e6} µs"

/// The report as a table (case, ours, peer, peer time, speedup), then the notes: one line per distinct reason a peer
/// was skipped, and each timed case's note (an agreement check, a density) after its name.
let printTable (report: Report) =
    let table = Table()
    let cores = if report.Device.Contains "cores" then "" else $" ({report.Cores} cores)"
    table.Title <- TableTitle(Markup.Escape $"{report.Benchmark} on {report.Device}{cores}")
    table.AddColumn "case" |> ignore
    table.AddColumn(TableColumn("ours").RightAligned()) |> ignore
    table.AddColumn "peer" |> ignore
    table.AddColumn(TableColumn("peer time").RightAligned()) |> ignore
    table.AddColumn(TableColumn("speedup").RightAligned()) |> ignore
    for case in report.Cases do
        // Text cells, not strings: AddRow would read a '[' in a case name as Spectre markup.
        let cells: Rendering.IRenderable list =
            [ Text case.Case
              Text(formatSeconds case.OursS)
              Text case.Peer
              Text(case.PeerS |> Option.map formatSeconds |> Option.defaultValue "-")
              Text(speedup case |> Option.map (fun x -> $"%.2f{x}x") |> Option.defaultValue "-") ]
        table.AddRow cells |> ignore
    AnsiConsole.Write table
    report.Cases
    |> List.choose (fun case ->
        case.Note |> Option.map (fun note -> if case.PeerS.IsNone then note else $"{case.Case}: {note}"))
    |> List.distinct
    |> List.iter (fun line -> AnsiConsole.WriteLine line)

/// A progress line on stderr (stdout stays one JSON document under --json).
let progress (benchmark: string) (text: string) = eprintfn "bench %s: %s" benchmark text

/// The cores the process may use, as reported by the runtime (affinity and container limits included).
let cores () = Environment.ProcessorCount
