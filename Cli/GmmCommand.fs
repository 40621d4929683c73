/// `hybrid gmm fit`: a Gaussian mixture fitted by EM to the rows of a tensor or CSV file.
module Hybrid.Cli.GmmCommand

open System.Text.Json
open Argu
open Hybrid.Core.Gpu
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private options (args: ParseResults<GmmFitArgs>) =
    let k = args.GetResult GmmFitArgs.K
    if k < 1 then fail "gmm fit: --k %d must be at least 1" k
    let given (flag: Quotations.Expr<string -> GmmFitArgs>) =
        args.TryGetResult flag |> Option.map (fun spec -> (TensorInput.load spec).Values) |> Option.toObj
    GaussianMixtureOptions(
        Components = k,
        Covariance = covariance (args.GetResult(GmmFitArgs.Covariance, defaultValue = Full)),
        Init = GaussianMixture.parseInit (args.GetResult(GmmFitArgs.Init, defaultValue = "kmeans")),
        WeightsInit = given <@ GmmFitArgs.Weights_Init @>,
        MeansInit = given <@ GmmFitArgs.Means_Init @>,
        PrecisionsInit = given <@ GmmFitArgs.Precisions_Init @>,
        Seed = args.GetResult(GmmFitArgs.Seed, defaultValue = 0),
        Tol = args.GetResult(GmmFitArgs.Tol, defaultValue = 1e-3),
        RegCovar = args.GetResult(GmmFitArgs.Reg_Covar, defaultValue = 1e-6),
        MaxIter = args.GetResult(GmmFitArgs.Max_Iter, defaultValue = 100),
        NInit = args.GetResult(GmmFitArgs.N_Init, defaultValue = 1))

let private print (json: bool) (s: GaussianMixture.Summary) =
    if json then
        dict [ "lower_bound", box s.LowerBound; "n_iter", box s.NIter; "converged", box s.Converged
               "bic", box s.Bic; "aic", box s.Aic; "weights", box s.Weights
               "n_samples", box s.Samples; "n_features", box s.Dimensions; "n_components", box s.Components
               "covariance_type", box s.Covariance; "init", box s.Init; "seed", box s.Seed; "n_init", box s.NInit
               "device", box s.Device ]
        |> fun doc -> printfn "%s" (JsonSerializer.Serialize doc)
    else
        heading $"Gaussian mixture: {s.Components} {s.Covariance} components on {s.Samples} x {s.Dimensions} points ({s.Device})"
        table [ "figure"; "value" ]
            [ [ "lower_bound (mean log-likelihood)"; s.LowerBound.ToString "R" ]
              [ "n_iter"; string s.NIter ]
              [ "converged"; (if s.Converged then "yes" else "no") ]
              [ "bic"; s.Bic.ToString "R" ]
              [ "aic"; s.Aic.ToString "R" ]
              [ "weights"; s.Weights |> Array.map (sprintf "%.4f") |> String.concat " " ]
              [ "init (seed)"; $"{s.Init} ({s.Seed}), n_init {s.NInit}" ] ]

let private fit (args: ParseResults<GmmFitArgs>) =
    let device = device (args.GetResult(GmmFitArgs.Device, defaultValue = Auto))
    let data = TensorInput.load (args.GetResult GmmFitArgs.Data)
    let options = options args
    let json = args.Contains GmmFitArgs.Json
    let progress (p: MixtureProgress) =
        if not json && p.Iteration % 10 = 0 then note $"init {p.Init + 1}, iteration {p.Iteration}: lower bound {p.LowerBound:R}"
    let model = GaussianMixture.fit device options (Some progress) data
    let summary = GaussianMixture.summarise device options model data
    args.TryGetResult GmmFitArgs.Out |> Option.iter (fun path -> GaussianMixture.save path summary model)
    print json summary
    if not model.Converged then
        note $"hybrid: note: EM did not converge within {options.MaxIter} iterations (raise --max-iter or --tol)"
    0

let run (args: ParseResults<GmmArgs>) =
    match args.TryGetSubCommand() with
    | Some(Fit a) -> fit a
    | _ -> fail "gmm: name a command: fit (see hybrid gmm --help)"
