module Hybrid.Tests.Main

open Expecto
open Expecto.Impl

/// Runs every [<Tests>] value (Expecto's usual arguments apply, e.g. --filter-test-list NAME, --sequenced);
/// ends with the line "N passed, N failed, N skipped" that CI reads.
[<EntryPoint>]
let main argv =
    let mutable counts = None
    let record (s: TestRunSummary) =
        counts <- Some(s.passed.Length, s.failed.Length + s.errored.Length, s.ignored.Length)
    let exitCode = runTestsInAssemblyWithCLIArgs [ Append_Summary_Handler(SummaryHandler record); No_Spinner ] argv
    let passed, failed, skipped = counts |> Option.defaultValue (0, 1, 0)
    // Written to the raw stdout stream after Expecto's output, so that no colour code or padding of its console shares the line.
    System.Console.Out.Flush()
    use stdout = System.Console.OpenStandardOutput()
    stdout.Write(
        System.Text.Encoding.UTF8.GetBytes(sprintf "\n%d passed, %d failed, %d skipped\n" passed failed skipped)
    )
    exitCode
