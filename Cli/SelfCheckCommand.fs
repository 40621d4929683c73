/// `hybrid selfcheck`: every backend against the reference kernels.
module Hybrid.Cli.SelfCheckCommand

open System.Text.Json
open Hybrid.Bench
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let defaultDevices = [ DeviceName.Cpu; DeviceName.Gpu ]

/// Runs the check, prints it (table or JSON) and returns whether every case passed.
let runCheck (devices: DeviceName list) (seed: int) (count: int) (json: bool) =
    let checks = SelfCheck.run (devices |> List.distinct |> List.map device) seed count
    if json then
        checks
        |> List.map (fun c ->
            dict [ "operation", box c.Operation; "shape", box c.Shape; "device", box c.Device
                   "worst_ratio", box c.WorstRatio; "passed", box c.Passed ])
        |> fun cases -> dict [ "seed", box seed; "abs_tol", box SelfCheck.AbsTol; "rel_tol", box SelfCheck.RelTol; "scale_tol", box SelfCheck.ScaleTol; "checks", box cases ]
        |> fun doc -> printfn "%s" (JsonSerializer.Serialize doc)
    else
        heading (sprintf "Kernel self-check against the reference (seed %d; pass: |ours - ref| <= max(%g, %g max|ref|) + %g |ref|)" seed SelfCheck.AbsTol SelfCheck.ScaleTol SelfCheck.RelTol)
        table [ "operation"; "shape"; "device"; "worst error / tolerance"; "result" ]
            [ for c in checks -> [ c.Operation; c.Shape; c.Device; sprintf "%.3f" c.WorstRatio; (if c.Passed then "ok" else "FAIL") ] ]
    checks |> List.forall (fun c -> c.Passed)

let run (args: Argu.ParseResults<SelfCheckArgs>) =
    let devices = args.GetResult(SelfCheckArgs.Device, defaultValue = defaultDevices)
    let count = args.GetResult(SelfCheckArgs.Count, 3)
    if count < 1 || count > 1000 then fail "selfcheck: --count %d is outside 1..1000" count
    let ok = runCheck devices (args.GetResult(SelfCheckArgs.Seed, 42)) count (args.Contains SelfCheckArgs.Json)
    if ok then 0 else 1
