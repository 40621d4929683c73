/// `hybrid gmm fit`: a Gaussian mixture fitted by EM to the rows of a tensor or CSV file.
module Hybrid.Cli.GmmCommand

open Argu
open Hybrid.Core.Gpu
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private options (args: ParseResults<GmmFitArgs>) =
    let k = args.GetResult GmmFitArgs.K
    if k < 1 then
        Input.fail "gmm fit: --k %d must be at least 1" k
    let given (flag: Quotations.Expr<string -> GmmFitArgs>) =
        args.TryGetResult flag |> Option.map (fun spec -> (TensorInput.load spec).Values) |> Option.toObj
    GaussianMixtureOptions(
        Components = k,
        Covariance =
            (args.TryGetResult GmmFitArgs.Covariance
             |> Option.map covariance
             |> Option.defaultValue Defaults.gmmFit.Covariance),
        Init =
            (args.TryGetResult GmmFitArgs.Init
             |> Option.map GaussianMixture.parseInit
             |> Option.defaultValue Defaults.gmmFit.Init),
        WeightsInit = given <@ GmmFitArgs.Weights_Init @>,
        MeansInit = given <@ GmmFitArgs.Means_Init @>,
        PrecisionsInit = given <@ GmmFitArgs.Precisions_Init @>,
        Seed = args.GetResult(GmmFitArgs.Seed, defaultValue = Defaults.gmmFit.Seed),
        Tol = args.GetResult(GmmFitArgs.Tol, defaultValue = Defaults.gmmFit.Tol),
        RegCovar = args.GetResult(GmmFitArgs.Reg_Covar, defaultValue = Defaults.gmmFit.RegCovar),
        MaxIter = args.GetResult(GmmFitArgs.Max_Iter, defaultValue = Defaults.gmmFit.MaxIter),
        NInit = args.GetResult(GmmFitArgs.N_Init, defaultValue = Defaults.gmmFit.NInit)
    )

let private printTable (s: GaussianMixture.Summary) =
    heading
        $"Gaussian mixture: {s.Components} {s.Covariance} components on {s.Samples} x {s.Dimensions} points ({s.Device})"
    table
        [ "figure"; "value" ]
        [ [ "lower_bound (mean log-likelihood)"; s.LowerBound.ToString "R" ]
          [ "n_iter"; string s.NIter ]
          [ "converged"; (if s.Converged then "yes" else "no") ]
          [ "bic"; s.Bic.ToString "R" ]
          [ "aic"; s.Aic.ToString "R" ]
          [ "weights"; s.Weights |> Array.map (sprintf "%.4f") |> String.concat " " ]
          [ "init (seed)"; $"{s.Init} ({s.Seed}), n_init {s.NInit}" ] ]

let private fit (args: ParseResults<GmmFitArgs>) =
    let device = device (args.GetResult(GmmFitArgs.Device, defaultValue = defaultDevice))
    let data = TensorInput.load (args.GetResult GmmFitArgs.Data)
    let options = options args
    let json = args.Contains GmmFitArgs.Json
    let progress (p: MixtureProgress) =
        if not json && p.Iteration % 10 = 0 then
            note $"init {p.Init + 1}, iteration {p.Iteration}: lower bound {p.LowerBound:R}"
    let r = GmmFit.run device options data (args.TryGetResult GmmFitArgs.Out) progress
    if json then printJson r.Summary else printTable r.Summary
    if not r.Model.Converged then
        note $"hybrid: note: EM did not converge within {options.MaxIter} iterations (raise --max-iter or --tol)"
    0

let run (args: ParseResults<GmmArgs>) =
    match args.TryGetSubCommand() with
    | Some(Fit a) -> fit a
    | _ -> Input.fail "gmm: name a command: fit (see hybrid gmm --help)"
