/// `hybrid cka score`: centred kernel alignment between two layers' activations.
module Hybrid.Cli.CkaCommand

open Argu
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private score (args: ParseResults<CkaScoreArgs>) =
    let device = device (args.GetResult(CkaScoreArgs.Device, defaultValue = Auto))
    let kernel =
        match args.GetResult(CkaScoreArgs.Kernel, defaultValue = Linear) with
        | Linear -> Hybrid.Core.Gpu.CkaKernel.Linear
        | Rbf -> Hybrid.Core.Gpu.CkaKernel.Rbf
    let sigma = args.GetResult(CkaScoreArgs.Sigma_Frac, defaultValue = Defaults.ckaScore.SigmaFraction)
    let r =
        CkaScore.run
            device
            kernel
            sigma
            (args.Contains CkaScoreArgs.Debiased)
            (args.GetResult CkaScoreArgs.X)
            (args.GetResult CkaScoreArgs.Y)
    if args.Contains CkaScoreArgs.Json then
        printJson r
    else
        let form = if r.Kernel = "rbf" then $"rbf, sigma {sigma} x median distance" else "linear"
        printfn
            "cka = %s  (%s%s; n = %d; %d vs %d features; %s)"
            (r.Cka.ToString "R")
            form
            (if r.Debiased then ", debiased" else "")
            r.N
            r.XFeatures
            r.YFeatures
            r.Device
    0

let run (args: ParseResults<CkaArgs>) =
    match args.TryGetSubCommand() with
    | Some(Score a) -> score a
    | _ -> Input.fail "cka: name a command: score (see hybrid cka --help)"
