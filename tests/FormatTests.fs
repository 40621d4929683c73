/// The tree is formatted as .editorconfig says: fantomas for F#, dotnet format (whitespace) for C#. A failure lists
/// the files; `dotnet tool run fantomas .` and `dotnet format whitespace . --folder` fix them.
module Hybrid.Tests.FormatTests

open Expecto

/// Runs dotnet with arguments at the repository root: exit code and the output of both streams.
let private dotnet (args: string list) =
    let code, out, err = runProcess "dotnet" repoRoot 300 args
    code, out + err

/// The F# folders: every project's sources and the scripts (generated and build folders are skipped by fantomas).
let private fsharpFolders = [ "Analysis.FSharp"; "TorchInterop"; "Cli"; "bench"; "tests"; "scripts" ]

[<Tests>]
let tests =
    testList
        "formatting"
        [ test "F# sources are formatted by fantomas" {
              let code, output = dotnet ([ "tool"; "run"; "fantomas"; "--check" ] @ fsharpFolders)
              if code <> 0 then
                  failtestf "fantomas --check exited with %d:\n%s" code output
          }
          test "C# sources are formatted by dotnet format" {
              let code, output =
                  dotnet [ "format"; "whitespace"; "."; "--folder"; "--verify-no-changes"; "--exclude"; "tests/golden" ]
              if code <> 0 then
                  failtestf "dotnet format whitespace --verify-no-changes exited with %d:\n%s" code output
          } ]
