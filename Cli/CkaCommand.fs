/// `hybrid cka score | index | search`: centred kernel alignment between two layers' activations; the CKA layer index
/// of the catalog and its search.
module Hybrid.Cli.CkaCommand

open System
open Argu
open Spectre.Console
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private score (args: ParseResults<CkaScoreArgs>) =
    let device = device (args.GetResult(CkaScoreArgs.Device, defaultValue = defaultDevice))
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

/// Runs work with a Spectre.Console progress bar on an interactive standard error, one plain line per step otherwise;
/// standard output stays free for the result.
let private withProgress (label: string) (work: (int -> int -> string -> unit) -> 'a) =
    let err = AnsiConsole.Create(AnsiConsoleSettings(Out = AnsiConsoleOutput(Console.Error)))
    if err.Profile.Capabilities.Interactive && not Console.IsErrorRedirected then
        Progress(err)
            .Columns(TaskDescriptionColumn(), ProgressBarColumn(), PercentageColumn(), RemainingTimeColumn())
            .Start(fun ctx ->
                let task = ctx.AddTask(label, maxValue = 1.0)
                work (fun doneCount total text ->
                    task.MaxValue <- float total
                    task.Value <- float doneCount
                    task.Description <- Markup.Escape text))
    else
        work (fun doneCount total text -> eprintfn "[%d/%d] %s" doneCount total text)

let private index (args: ParseResults<CkaIndexArgs>) =
    let device = device (args.GetResult(CkaIndexArgs.Device, defaultValue = defaultDevice))
    let paths = args.GetResult CkaIndexArgs.Models
    LayerIndex.requireFiles paths
    if args.Contains CkaIndexArgs.Name && paths.Length > 1 then
        Input.fail "cka index: --name names one model; %d are given" paths.Length
    let accuracies =
        match args.TryGetResult CkaIndexArgs.Accuracy with
        | None -> List.replicate paths.Length None
        | Some xs when xs.Length <> paths.Length ->
            Input.fail "cka index: --accuracy has %d values for %d models" xs.Length paths.Length
        | Some xs ->
            for a in xs do
                if not (a >= 0.0 && a <= 1.0) then
                    Input.fail "cka index: --accuracy %g must be between 0 and 1" a
            List.map Some xs
    let mean, std = ImageRun.normalisation (args.TryGetResult CkaIndexArgs.Mean) (args.TryGetResult CkaIndexArgs.Std)
    let probe =
        ProbeSet.load
            (args.GetResult CkaIndexArgs.Probe)
            (args.GetResult(CkaIndexArgs.Probe_First, defaultValue = Defaults.cka.ProbeFirst))
            (args.GetResult(CkaIndexArgs.Probe_Count, defaultValue = Defaults.cka.ProbeCount))
            mean
            std
    let models =
        [ for path, accuracy in List.zip paths accuracies ->
              { LayerIndex.ModelToIndex.Path = path
                LayerIndex.ModelToIndex.Name =
                  args.GetResult(CkaIndexArgs.Name, defaultValue = LayerIndex.modelName path)
                LayerIndex.ModelToIndex.Version =
                  args.GetResult(CkaIndexArgs.Version, defaultValue = Defaults.cka.Version)
                LayerIndex.ModelToIndex.Arch = args.TryGetResult CkaIndexArgs.Arch
                LayerIndex.ModelToIndex.Accuracy = accuracy
                LayerIndex.ModelToIndex.TrainedOn = args.TryGetResult CkaIndexArgs.Trained_On } ]
    let selection =
        { LayerCapture.Paths = args.GetResult(CkaIndexArgs.Layers, defaultValue = [])
          LayerCapture.Types = args.GetResult(CkaIndexArgs.Layer_Types, defaultValue = []) }
    let db = args.GetResult(CkaIndexArgs.Db, defaultValue = Defaults.db)
    let result =
        withProgress "indexing" (fun report ->
            report 0 models.Length $"indexing {models.Head.Name}"
            LayerIndex.run device db probe selection models (fun doneCount total m ->
                report doneCount total $"{m.Model}/{m.Version}: {m.Layers} layers"))
    if args.Contains CkaIndexArgs.Json then
        printJson result
    else
        let p = result.Probe
        printfn "probe %s: %s, images %s, %s (n = %d)" p.Id p.Spec p.Indices p.Preprocessing p.Count
        table
            [ "model"; "version"; "network"; "layers"; "skipped"; "seconds" ]
            [ for m in result.Models ->
                  [ m.Model; m.Version; m.Network; string m.Layers; string m.Skipped.Length; $"%.1f{m.Seconds}" ] ]
        printfn "stored in %s (%s)" result.Db result.Device
    0

let private printHits (q: LayerSearch.QueryHits) =
    heading $"{q.Model}/{q.Version} {q.Layer} (probe {q.Probe})"
    table
        [ "model"; "version"; "layer"; "type"; "cka"; "accuracy" ]
        [ for h in q.Results ->
              [ h.Model
                h.Version
                h.Layer
                h.LayerType
                h.Score.ToString("F6")
                (h.Accuracy |> Option.map (sprintf "%.4f") |> Option.defaultValue "") ] ]

let private search (args: ParseResults<CkaSearchArgs>) =
    let device = device (args.GetResult(CkaSearchArgs.Device, defaultValue = defaultDevice))
    let model, layers =
        match args.GetResult CkaSearchArgs.Query with
        | model :: layers -> model, layers
        | [] -> Input.fail "cka search: name a MODEL and its LAYERs"
    let query =
        { LayerSearch.query model layers with
            Version = args.TryGetResult CkaSearchArgs.Version
            Probe = args.TryGetResult CkaSearchArgs.Probe
            K = args.GetResult(CkaSearchArgs.K, defaultValue = Defaults.cka.K)
            IncludeSelf = args.Contains CkaSearchArgs.Include_Self
            MinAccuracy = args.TryGetResult CkaSearchArgs.Min_Accuracy
            LayerType = args.TryGetResult CkaSearchArgs.Layer_Type
            TrainedOn = args.TryGetResult CkaSearchArgs.Trained_On }
    let results = LayerSearch.run device (args.GetResult(CkaSearchArgs.Db, defaultValue = Defaults.db)) query
    match args.Contains CkaSearchArgs.Json, results with
    | true, [ one ] -> printJson one
    | true, many -> printJson {| Queries = many |}
    | false, _ -> List.iter printHits results
    0

let private compare (args: ParseResults<CkaCompareArgs>) =
    let a, b =
        match args.GetResult CkaCompareArgs.Models with
        | [ a; b ] -> a, b
        | names -> Input.fail "cka compare: name two models, A and B (%d given)" names.Length
    let r =
        LayerCompare.run
            (args.GetResult(CkaCompareArgs.Db, defaultValue = Defaults.db))
            a
            b
            (args.TryGetResult CkaCompareArgs.Probe)
            (args.GetResult CkaCompareArgs.Out)
    if args.Contains CkaCompareArgs.Json then
        printJson r
    else
        let c = r.Comparison
        heading $"{c.A} vs {c.B} (probe {c.Probe})"
        for s in c.Structure.Summary do
            printfn "%s" s
        table
            [ $"layer of {c.A}"; $"best match in {c.B}"; "cka" ]
            [ for m in c.Best -> [ m.Layer; m.Match; m.Score.ToString "F4" ] ]
        printfn "wrote %s and %s" r.Html r.Csv
    0

let run (args: ParseResults<CkaArgs>) =
    match args.TryGetSubCommand() with
    | Some(Score a) -> score a
    | Some(Index a) -> index a
    | Some(Search a) -> search a
    | Some(Compare a) -> compare a
    | _ -> Input.fail "cka: name a command: score, index, search or compare (see hybrid cka --help)"
