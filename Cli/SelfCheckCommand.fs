/// `hybrid selfcheck`: every backend against the reference kernels.
module Hybrid.Cli.SelfCheckCommand

open Hybrid.Analysis
open Hybrid.Bench
open Hybrid.Cli.Args
open Hybrid.Cli.Console

/// The JSON result of selfcheck: the seed, the tolerances and every check.
type SelfCheckResult = { Seed: int; AbsTol: float; RelTol: float; ScaleTol: float; Checks: SelfCheck.Check list }

/// Runs the check, prints it (table or JSON) and returns whether every case passed.
let runCheck (devices: DeviceName list) (seed: int) (count: int) (json: bool) =
    let checks = SelfCheck.run (devices |> List.distinct |> List.map device) seed count
    if json then
        printJson
            { Seed = seed
              AbsTol = SelfCheck.AbsTol
              RelTol = SelfCheck.RelTol
              ScaleTol = SelfCheck.ScaleTol
              Checks = checks }
    else
        heading (
            sprintf
                "Kernel self-check against the reference (seed %d; pass: |ours - ref| <= max(%g, %g max|ref|) + %g |ref|)"
                seed
                SelfCheck.AbsTol
                SelfCheck.ScaleTol
                SelfCheck.RelTol
        )
        table
            [ "operation"; "shape"; "device"; "worst error / tolerance"; "result" ]
            [ for c in checks ->
                  [ c.Operation; c.Shape; c.Device; sprintf "%.3f" c.WorstRatio; (if c.Passed then "ok" else "FAIL") ] ]
    checks |> List.forall (fun c -> c.Passed)

let run (args: Argu.ParseResults<SelfCheckArgs>) =
    let devices = args.GetResult(SelfCheckArgs.Device, defaultValue = selfCheckDevices)
    let count = args.GetResult(SelfCheckArgs.Count, Defaults.selfCheck.Count)
    if count < 1 || count > 1000 then
        Input.fail "selfcheck: --count %d is outside 1..1000" count
    let ok =
        runCheck
            devices
            (args.GetResult(SelfCheckArgs.Seed, Defaults.selfCheck.Seed))
            count
            (args.Contains SelfCheckArgs.Json)
    if ok then 0 else 1
