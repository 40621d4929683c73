/// `hybrid bench anomaly`: the whole naming-anomaly cross-validation (5 folds, 40 epochs, class mixtures) on the dev
/// traces against the same pipeline in scikit-learn (MLPClassifier + GaussianMixture) on the same cores. Each side runs
/// the pipeline twice in one process and times both runs: the first pays for what a process does once (our JIT, the
/// first calls into NumPy and scikit-learn), the second is the steady state. Both mean accuracies are printed, and the
/// accuracy of a plain scikit-learn MLP on raw 1- and 2-gram counts beside them.
module Hybrid.Bench.AnomalyBench

open Hybrid.Core.Gpu
open Hybrid.Analysis
open Hybrid.Analysis.Naming
open Hybrid.Bench.Report

type Options =
    {
        /// A trace file (JSON Lines); by default ../shared's dev traces.
        Data: string option
        Label: Labels.Field
        MinClassCount: int
        Folds: int
        Epochs: int
    }

/// model_type at DARA's minimum class count of 20, 5 folds of 40 epochs.
let defaults = { Data = None; Label = Labels.ModelType; MinClassCount = 20; Folds = 5; Epochs = 40 }

let peer = { Peers.Script = "anomaly_sklearn.py"; Peers.Packages = [ "python3-sklearn" ] }

/// One timed run per call: a whole cross-validation takes seconds, far above timing noise.
let private once = { Timing.Warmup = 0; Timing.MinRepeats = 1; Timing.MaxRepeats = 1; Timing.Seconds = 0.0 }

/// The peer's names of its two timed runs, first and second (bench/peers/anomaly_sklearn.py).
let private runs = [ "pipeline-first", "first run"; "pipeline", "second run" ]

let run (device: Device) (options: Options) =
    let data =
        match options.Data, FuzzBench.sharedDir () with
        | Some path, _ -> path
        | None, Some shared -> System.IO.Path.Combine(shared, "data", "peatmoss-traces", "dev.jsonl")
        | None, None -> Input.fail "bench anomaly: give --data FILE.jsonl (../shared with the dev traces is not here)"
    let models = FromTraces.read data
    let labels = Labels.assign options.Label options.MinClassCount models
    let settings =
        { CrossValidation.defaults with
            Folds = options.Folds
            Classifier = { Classifier.defaults with Epochs = options.Epochs } }
    let mutable accuracy = 0.0
    progress "anomaly" $"{options.Folds}-fold cross-validation of {models.Length} models on {device.Name}"
    let cv () =
        Timing.measureOn device once (fun () ->
            let terms = NGrams.termsOfAll settings.Features models
            let r =
                CrossValidation.run
                    device
                    settings
                    labels.Classes.Length
                    0
                    terms
                    labels.Targets
                    labels.Singletons
                    ignore
            accuracy <- r.MeanAccuracy)
    let first = cv ()
    let second = cv ()
    progress "anomaly" "the same pipeline with the scikit-learn peer"
    let outcome =
        Peers.run
            peer
            ([ "--data"
               data
               "--label"
               Labels.fieldName options.Label
               "--min-class-count"
               string options.MinClassCount
               "--folds"
               string options.Folds
               "--epochs"
               string options.Epochs ]
             @ Timing.toArgs once)
    let theirs name = Peers.value outcome name |> Option.map (sprintf "%.3f") |> Option.defaultValue "-"
    let pipeline, plain = theirs "pipeline", theirs "plain-mlp"
    let accuracies =
        $"mean accuracy {accuracy:F3} vs {pipeline}; a plain scikit-learn MLP on raw 1- and 2-gram counts: {plain}"
    let case (peerCase, run) seconds =
        let c = Peers.toCase "scikit-learn" outcome peerCase seconds
        { c with
            Case =
                $"{Labels.fieldName options.Label} (min class count {options.MinClassCount}), {options.Folds}-fold, {options.Epochs} epochs, mixtures, {run}"
            Note =
                Some(
                    match c.Note with
                    | Some n -> $"{n}; {accuracies}"
                    | None -> accuracies
                ) }
    { Benchmark = "anomaly"; Device = device.Name; Cores = cores (); Cases = List.map2 case runs [ first; second ] }
