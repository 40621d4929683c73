/// `hybrid cka score`: centred kernel alignment between two layers' activations.
module Hybrid.Cli.CkaCommand

open System.Text.Json
open Argu
open Hybrid.Core.Gpu
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private score (args: ParseResults<CkaScoreArgs>) =
    let device = device (args.GetResult(CkaScoreArgs.Device, defaultValue = Auto))
    let kernel = match args.GetResult(CkaScoreArgs.Kernel, defaultValue = Linear) with Linear -> CkaKernel.Linear | Rbf -> CkaKernel.Rbf
    let sigma = args.GetResult(CkaScoreArgs.Sigma_Frac, defaultValue = 0.8)
    if not (sigma > 0.0) || System.Double.IsInfinity sigma then fail "cka score: --sigma-frac %g must be positive and finite" sigma
    let debiased = args.Contains CkaScoreArgs.Debiased
    let x = TensorInput.load (args.GetResult CkaScoreArgs.X)
    let y = TensorInput.load (args.GetResult CkaScoreArgs.Y)
    let value = Cka.score device (Cka.options kernel sigma debiased) x y
    let kernelName = if kernel = CkaKernel.Linear then "linear" else "rbf"
    if args.Contains CkaScoreArgs.Json then
        dict [ "cka", box value; "kernel", box kernelName; "sigma_frac", box sigma; "debiased", box debiased
               "n", box x.Rows; "x_features", box x.Columns; "y_features", box y.Columns; "device", box device.Name ]
        |> fun doc -> printfn "%s" (JsonSerializer.Serialize doc)
    else
        let form = if kernel = CkaKernel.Rbf then $"rbf, sigma {sigma} x median distance" else "linear"
        printfn "cka = %s  (%s%s; n = %d; %d vs %d features; %s)" (value.ToString "R") form
            (if debiased then ", debiased" else "") x.Rows x.Columns y.Columns device.Name
    0

let run (args: ParseResults<CkaArgs>) =
    match args.TryGetSubCommand() with
    | Some(Score a) -> score a
    | _ -> fail "cka: name a command: score (see hybrid cka --help)"
