module Hybrid.Cli.Program

open System
open Argu
open Hybrid.Cli.Args

let private version =
    let v = Reflection.Assembly.GetExecutingAssembly().GetName().Version
    sprintf "hybrid %d.%d.%d" v.Major v.Minor v.Build

/// The GEMM engine is the application's to choose and to report: HYBRID_MANAGED_GEMM=1 forces the managed GEMM, and a
/// missing OpenBLAS is said in one line.
let private chooseGemm () =
    if Environment.GetEnvironmentVariable "HYBRID_MANAGED_GEMM" = "1" then
        Hybrid.Core.Gpu.CpuGemm.ManagedForced <- true
    if not Hybrid.Core.Gpu.CpuGemm.OpenBlasAvailable then
        eprintfn "hybrid: OpenBLAS (libopenblas0-pthread) not found; using the managed GEMM, which is slower"

[<EntryPoint>]
let main argv =
    chooseGemm ()
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
            | Reengineer a -> ReengineerCommand.run a
            | Defects a -> DefectsCommand.run a
            | Bench a -> BenchCommand.run a
            | Extract a -> ExtractCommand.run a
            | Dedup a -> DedupCommand.run a
            | Analyze a -> AnalyzeCommand.run a
            | Anomaly a -> AnomalyCommand.run a
            | Serve a -> ServeCommand.run a
            | Analyze_Model a -> AnalyzeModelCommand.run a
            | Worker a -> QueueCommand.worker a
            | Queue a -> QueueCommand.queue a
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
