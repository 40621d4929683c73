/// End-to-end tests of the `hybrid` command: exit codes, one-line errors, JSON output.
module Hybrid.Tests.CliTests

open System.Diagnostics
open System.IO
open System.Text.Json
open Expecto
open Hybrid.Tests.Shared

/// The CLI built beside the tests (same configuration: the test project references it).
let private cliDll =
    // The test program runs from tests/bin/CONFIGURATION/net10.0/.
    let configuration = DirectoryInfo(Path.TrimEndingDirectorySeparator System.AppContext.BaseDirectory).Parent.Name
    Path.Combine(repoRoot, "Cli", "bin", configuration, "net10.0", "hybrid.dll")

/// Runs hybrid with arguments; returns exit code, stdout, stderr. Bounded in time so a hang fails the test.
let runCli (args: string list) =
    let info = ProcessStartInfo("dotnet", RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    info.ArgumentList.Add cliDll
    for a in args do info.ArgumentList.Add a
    use p = Process.Start info
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit 120_000) then
        p.Kill true
        failtestf "hybrid %s did not finish within 120 s" (String.concat " " args)
    p.ExitCode, out.Result, err.Result

[<Tests>]
let tests =
    testList "cli" [
        test "--help lists every command" {
            let code, out, _ = runCli [ "--help" ]
            Expect.equal code 0 "exit code"
            for command in [ "demo"; "selfcheck"; "bench" ] do
                Expect.stringContains out command "help names the command"
        }
        test "an unknown flag is an error with usage, exit code 2" {
            let code, _, err = runCli [ "bench"; "--frobnicate" ]
            Expect.equal code 2 "exit code"
            Expect.stringContains err "unrecognized argument: '--frobnicate'" "names the flag"
            Expect.isFalse (err.Contains "   at ") "no stack trace"
        }
        test "a bad value is one error line, exit code 1" {
            let code, out, err = runCli [ "bench"; "gemm"; "--sizes"; "0" ]
            Expect.equal code 1 "exit code"
            Expect.equal (err.Trim()) "hybrid: error: bench gemm: size 0 is outside 1..16384" "one line naming the problem"
            Expect.equal out "" "nothing on stdout"
        }
        test "selfcheck --json on the reference and ILGPU backends" {
            let code, out, err = runCli [ "selfcheck"; "--device"; "reference"; "gpu"; "--count"; "1"; "--seed"; "5"; "--json" ]
            Expect.equal code 0 (sprintf "exit code (stderr: %s)" err)
            use doc = JsonDocument.Parse out
            let checks = doc.RootElement.GetProperty("checks").EnumerateArray() |> Seq.toList
            Expect.equal checks.Length 6 "3 operations x 2 devices"
            for c in checks do
                Expect.isTrue (c.GetProperty("passed").GetBoolean()) (c.GetRawText())
        }
    ]
