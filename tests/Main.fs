module Hybrid.Tests.Main

open Expecto
open Expecto.Impl

/// Runs every [<Tests>] value; ends with the line "N passed, N failed, N skipped" that CI reads.
/// Arguments: optional name prefixes to run only some tests (e.g. "masked layers vs PyTorch fixtures").
[<EntryPoint>]
let main argv =
    let all = testFromThisAssembly () |> Option.defaultValue (testList "none" [])
    let selected =
        if argv.Length = 0 then all
        else all |> Test.filter "/" (fun path -> argv |> Array.exists (fun prefix -> (String.concat "/" path).StartsWith prefix))
    let summary (config: ExpectoConfig) (s: TestRunSummary) =
        async {
            do! defaultConfig.printer.summary config s
            printfn "%d passed, %d failed, %d skipped" s.passed.Length (s.failed.Length + s.errored.Length) s.ignored.Length
        }
    let config = { defaultConfig with printer = { defaultConfig.printer with summary = summary } }
    runTests config selected
