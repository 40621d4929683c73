module Hybrid.Cli.Program

open System
open Argu
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private version =
    let v = Reflection.Assembly.GetExecutingAssembly().GetName().Version
    sprintf "hybrid %d.%d.%d" v.Major v.Minor v.Build

[<EntryPoint>]
let main argv =
    let parser = ArgumentParser.Create<HybridArgs>(programName = "hybrid")
    try
        let args = parser.ParseCommandLine(argv, raiseOnUsage = true)
        if args.Contains Version then
            printfn "%s" version
            0
        else
            match args.GetSubCommand() with
            | Demo a -> DemoCommand.run a
            | Selfcheck a -> SelfCheckCommand.run a
            | Inspect a -> InspectCommand.run a
            | Gmm a -> GmmCommand.run a
            | Cka a -> CkaCommand.run a
            | Eval a -> EvalCommand.run a
            | Train a -> TrainCommand.run a
            | Bench a -> BenchCommand.run a
            | Extract a -> ExtractCommand.run a
            | Dedup a -> DedupCommand.run a
            | Analyze a -> AnalyzeCommand.run a
            | Version -> 0
    with
    | :? ArguParseException as e when e.ErrorCode = ErrorCode.HelpText ->
        printfn "%s" e.Message
        0
    | :? ArguParseException as e ->
        // Argu's message already holds the error line and the usage of the (sub)command.
        eprintfn "%s" e.Message
        2
    | :? Hybrid.Core.Nn.InputException as e ->
        // The one user-facing error: its message is the whole story. Anything else is a bug and shows its stack trace.
        eprintfn "hybrid: error: %s" e.Message
        1
