/// The command line as a type (Argu): one union case per subcommand and per flag; usage strings in one match each.
module Hybrid.Cli.Args

open Argu
open Hybrid.Bench
open Hybrid.Cli.Defaults

type DeviceName =
    | Cpu
    | Gpu
    | Reference
    | Auto

/// The device of every --device that picks one device, when none is named: gpu when CUDA is present, else cpu.
let defaultDevice = Auto

/// The engines that can run a zoo network: Hybrid's own Core.Nn (the default) or its TorchSharp twin.
type EngineName =
    | Core
    | Torchsharp

let private engineUsage =
    "core (Hybrid's Core.Nn, the default) or torchsharp (the same network and weights run by TorchSharp's libtorch)."

/// The usage of --engine on the commands that train.
let private trainingEngineUsage =
    "core (Hybrid's Core.Nn, the default) or torchsharp (the same loop with every step on the model's TorchSharp twin: libtorch's autograd and torch.optim, on the CPU; it cannot --resume)."

/// The engine a --engine value names; any other value is one error line.
let engineOf (name: string) =
    match name.ToLowerInvariant() with
    | "core" -> Core
    | "torchsharp" -> Torchsharp
    | _ -> Hybrid.Analysis.Input.fail "--engine %s: unknown engine; use core or torchsharp" name

/// The devices selfcheck (and the demo's self-check) compares with the reference when none are named.
let selfCheckDevices = [ Cpu; Gpu ]

let private deviceWords (devices: DeviceName list) =
    devices |> List.map (fun d -> (string d).ToLowerInvariant()) |> words

/// The usage of every --device that picks one device, auto by default.
let private autoDevice = "cpu, gpu, reference or auto (default: gpu when CUDA is present, else cpu)."

/// The usage of the normalisation flags and of --arch, for every command that loads a model onto a dataset.
let private meanUsage = "per-channel mean to subtract, comma-separated (e.g. 0.485,0.456,0.406; default none)."
let private stdUsage =
    "per-channel standard deviation to divide by, comma-separated (e.g. 0.229,0.224,0.225; default none)."
let private archUsage = "its zoo architecture (default: found from the tensor names and shapes)."

/// The usage of --db on the commands that read the catalog, and on those that create it when it is missing.
let private catalogUsage = $"the catalog (default ./{db})."
let private newCatalogUsage = $"the catalog (default ./{db}, created when missing)."

/// The usage of the anomaly rule's --tau, which anomaly train and anomaly check share, and the default of their --epsilon.
let private tauUsage =
    $"flag when the classifier gives the declared class at most 1 - tau (default {text Hybrid.Analysis.Naming.Flags.defaults.Tau})."
let private epsilonDefault = text (Option.get Hybrid.Analysis.Naming.Flags.defaults.Epsilon)

/// The usage of --json on the commands that print a table, and on those that print a result.
let private jsonTableUsage = "print one JSON document instead of a table."
let private jsonResultUsage = "print the result as one JSON document."

type SelfCheckArgs =
    | Device of DeviceName list
    | Seed of int
    | Count of int
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Device _ ->
                $"devices to check against the reference (default: {deviceWords selfCheckDevices}). gpu without CUDA runs the ILGPU kernels on ILGPU's CPU accelerator."
            | Seed _ -> $"seed of the random shapes and data (default {selfCheck.Seed})."
            | Count _ -> $"random cases per operation (default {selfCheck.Count})."
            | Json -> jsonTableUsage

type GraphFormat =
    | Table
    | Dot

type InspectArgs =
    | [<MainCommand; Mandatory>] Path of path: string
    | Depth of int
    | Tensors
    | Graph
    | Format of GraphFormat
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Path _ ->
                "a safetensors, PyTorch (zip or legacy; nothing in it runs) or ONNX file, a Hugging Face model folder (sharded or not) or a hub cache entry models--org--name; with --graph also a JSON Lines trace file or zoo:NAME."
            | Depth _ -> $"levels of the module hierarchy to show (default {inspect.Depth})."
            | Tensors -> "also list every tensor (name, dtype, shape)."
            | Graph -> "show the abstract architecture: layer types, DAG size, nesting depth, pruned nodes."
            | Format _ -> "with --graph: table (default) or dot (Graphviz text of the DAG)."
            | Json -> "print one JSON document instead of tables."

type CovarianceName =
    | Full
    | Tied
    | Diag
    | Spherical

type GmmFitArgs =
    | [<Mandatory>] Data of spec: string
    | [<Mandatory>] K of int
    | Covariance of CovarianceName
    | Init of method: string
    | Seed of int
    | Weights_Init of spec: string
    | Means_Init of spec: string
    | Precisions_Init of spec: string
    | Tol of float
    | Reg_Covar of float
    | Max_Iter of int
    | N_Init of int
    | Out of path: string
    | Device of DeviceName
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Data _ ->
                "the points, one per row: FILE.safetensors:TENSOR (shape (n, ...), flattened per row) or FILE.csv."
            | K _ -> "number of mixture components."
            | Covariance _ -> $"covariance type (default {(string gmmFit.Covariance).ToLowerInvariant()})."
            | Init _ ->
                $"initialisation: {Hybrid.Analysis.GaussianMixture.initName gmmFit.Init} (default), k-means++, random or random_from_data; given inits override it."
            | Seed _ ->
                $"seed of the initialisation (default {gmmFit.Seed}); the same seed gives the same fit on every device."
            | Weights_Init _ -> "initial weights (k), as FILE:TENSOR or CSV."
            | Means_Init _ -> "initial means (k x d), as FILE:TENSOR or CSV."
            | Precisions_Init _ -> "initial precisions: full k x d x d, tied d x d, diag k x d, spherical k."
            | Tol _ -> $"stop when the lower bound moves by less than this (default {text gmmFit.Tol})."
            | Reg_Covar _ ->
                $"added to every variance, keeping covariances positive definite (default {text gmmFit.RegCovar})."
            | Max_Iter _ -> $"EM iterations per initialisation at most (default {gmmFit.MaxIter})."
            | N_Init _ -> $"initialisations; the best lower bound wins (default {gmmFit.NInit})."
            | Out _ -> "write the fitted model (weights, means, covariances, precisions_cholesky) as safetensors."
            | Device _ -> $"device to fit on: {autoDevice}"
            | Json -> jsonTableUsage

type GmmArgs =
    | [<CliPrefix(CliPrefix.None)>] Fit of ParseResults<GmmFitArgs>

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Fit _ -> "fit a Gaussian mixture by EM (scikit-learn's GaussianMixture semantics)."

type KernelName =
    | Linear
    | Rbf

type CkaScoreArgs =
    | [<Mandatory>] X of spec: string
    | [<Mandatory>] Y of spec: string
    | Kernel of KernelName
    | Sigma_Frac of float
    | Debiased
    | Device of DeviceName
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | X _ -> "activations of the first layer: FILE.safetensors:TENSOR of shape (n, ...) or FILE.csv."
            | Y _ -> "activations of the second layer, for the same n probe inputs in the same order."
            | Kernel _ -> "linear (default) or rbf."
            | Sigma_Frac _ ->
                $"RBF bandwidth as a fraction of the median distance between distinct examples (default {text ckaScore.SigmaFraction})."
            | Debiased -> "use the unbiased HSIC estimator (Song et al. 2012; needs n >= 4)."
            | Device _ -> $"device: {autoDevice}"
            | Json -> "print one JSON document instead of the line 'cka = ...'."

type CkaIndexArgs =
    | [<MainCommand; Mandatory>] Models of path: string list
    | [<Mandatory>] Probe of spec: string
    | Probe_Count of int
    | Probe_First of int
    | Mean of values: string
    | Std of values: string
    | Db of path: string
    | Name of string
    | Version of string
    | Arch of name: string
    | Accuracy of float list
    | Trained_On of dataset: string
    | Layers of path: string list
    | Layer_Types of name: string list
    | Device of DeviceName
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Models _ ->
                "model files: zoo weights in any format (.safetensors, .pt, .th, .bin, Hugging Face folder), or .onnx graphs (every node's output; run by Hybrid's own operators)."
            | Probe _ ->
                "the probe data set SPEC (cifar10:FILE, fashion-mnist[:DIR], folder:DIR, random:N:CxHxW[:SEED])."
            | Probe_Count _ -> $"probe inputs (default {cka.ProbeCount}; 4 to {cka.MaxProbeCount})."
            | Probe_First _ -> $"index of the first probe input in the data set (default {cka.ProbeFirst})."
            | Mean _ -> meanUsage
            | Std _ -> stdUsage
            | Db _ -> newCatalogUsage
            | Name _ -> "the name to store the model under, with one model (default: the file or folder name)."
            | Version _ -> $"the version to store the models under (default {cka.Version})."
            | Arch _ -> archUsage
            | Accuracy _ -> "the models' accuracies, one per model in order, stored for search's --min-accuracy."
            | Trained_On _ -> "the data set the models were trained on, stored for search's --trained-on."
            | Layers _ ->
                "module paths to index; for ONNX, node names as in the file or as stored (/layer1/Relu or layer1.Relu) (default: every module or node)."
            | Layer_Types _ ->
                "module types to index, such as Conv2d or BasicBlock; for ONNX, op types such as Conv or Relu (default: every module or node)."
            | Device _ -> autoDevice
            | Json -> "print one JSON document {db, probe, models, device} instead of a table."

type CkaSearchArgs =
    | [<MainCommand; Mandatory>] Query of model_and_layers: string list
    | K of int
    | Include_Self
    | Version of string
    | Probe of id: string
    | Min_Accuracy of float
    | Layer_Type of name: string
    | Trained_On of dataset: string
    | Db of path: string
    | Device of DeviceName
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Query _ -> "MODEL LAYER...: an indexed model and its layers to search for (no layer: every layer)."
            | K _ -> $"hits per layer (default {cka.K})."
            | Include_Self -> "also return layers of the query's own model (by default they are skipped)."
            | Version _ -> "the query model's version, when several are indexed."
            | Probe _ -> "the probe-set id, when the model is indexed on several."
            | Min_Accuracy _ -> "only models whose stored accuracy is at least this."
            | Layer_Type _ ->
                "only layers of this module type (Conv2d, BasicBlock, ...) or ONNX op type (Conv, Relu, ...)."
            | Trained_On _ -> "only models stored with this --trained-on data set."
            | Db _ -> catalogUsage
            | Device _ -> autoDevice
            | Json ->
                "print one JSON document {probe, model, version, layer, results: [{model, version, layer, layer_type, score, accuracy}]} (several layers: {queries: [...]})."

type CkaCompareArgs =
    | [<MainCommand; Mandatory>] Models of a_and_b: string list
    | [<Mandatory>] Out of dir: string
    | Probe of id: string
    | Db of path: string
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Models _ -> "A B: two indexed models, each MODEL or MODEL/VERSION."
            | Out _ -> "folder for index.html (heatmap, structure, best matches), cka.csv and compare.json."
            | Probe _ -> "the probe-set id, when A is indexed on several."
            | Db _ -> catalogUsage
            | Json -> "print the comparison as one JSON document instead of a summary."

type CkaArgs =
    | [<CliPrefix(CliPrefix.None)>] Score of ParseResults<CkaScoreArgs>
    | [<CliPrefix(CliPrefix.None)>] Index of ParseResults<CkaIndexArgs>
    | [<CliPrefix(CliPrefix.None)>] Search of ParseResults<CkaSearchArgs>
    | [<CliPrefix(CliPrefix.None)>] Compare of ParseResults<CkaCompareArgs>

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Score _ -> "centred kernel alignment between two layers' activations."
            | Index _ ->
                "capture every layer of models on a probe set and store their CKA encodings in the catalog (re-indexing replaces a model's rows)."
            | Search _ ->
                "the indexed layers most similar (linear CKA, exact top-k) to a model's layers, in other models."
            | Compare _ ->
                "the layer-by-layer CKA heatmap (HTML, CSV) of two indexed models and a structural comparison per stage."

type GemmArgs =
    | Sizes of int list
    | Quick

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Sizes _ -> $"square sizes to time (default {words GemmBench.defaults.Sizes})."
            | Quick -> "fewer sizes and shorter timing (what the demo runs)."

type ConvModel =
    | Resnet20
    | Vgg16
    | All

type ConvArgs =
    | Model of ConvModel
    | Batch of int
    | Quick

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ -> "conv shapes of which CIFAR model (default all)."
            | Batch _ -> $"batch size (default {ConvBench.defaults.Batch})."
            | Quick -> "a few ResNet-20 shapes at batch 16 (what the demo runs)."

type GmmBenchArgs =
    | Samples of int
    | Components of int
    | Iterations of int
    | Covariance of CovarianceName list
    | Quick

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Samples _ ->
                $"points (default {GmmBench.defaults.Samples}; {GmmBench.defaults.Dimensions} features each)."
            | Components _ -> $"mixture components (default {GmmBench.defaults.Components})."
            | Iterations _ -> $"EM iterations, run to the end with tol = 0 (default {GmmBench.defaults.Iterations})."
            | Covariance _ -> "covariance types to time (default: full tied diag spherical)."
            | Quick -> "20,000 x 8 points, 4 components, 20 iterations (what the demo runs)."

type CkaBenchArgs =
    | Stored of int
    | Quick

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Stored _ -> $"encodings in the search index (default {CkaBench.defaults.Stored}, 2 GB of float32)."
            | Quick -> "6 layers up to 8,192 features and 10,000 stored encodings (what the demo runs)."

type CkaIndexBenchArgs =
    | Stored of int
    | Depth of int
    | Quick

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Stored _ ->
                $"layers in the searched catalog, a multiple of {CkaIndexBench.defaults.LayersPerModel} (default {CkaIndexBench.defaults.Stored}, 2 GB)."
            | Depth _ ->
                $"depth of the CIFAR ResNet indexed: 20, 32, 44, 56 or 110 (default {CkaIndexBench.defaults.Depth})."
            | Quick -> "ResNet-20 and 5,000 stored layers, brief timing."

type FuzzArgs =
    | Count of int
    | Seed of int

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Count _ -> $"mutated inputs per format (default {fuzz.Count})."
            | Seed _ -> $"seed of the mutations (default {fuzz.Seed})."

type ResnetBenchArgs =
    | Inference_Batch of int
    | Train_Batch of int
    | Quick
    | Memory

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Inference_Batch _ -> $"images per inference forward pass (default {ResnetBench.defaults.InferenceBatch})."
            | Train_Batch _ -> $"images per training step (default {ResnetBench.defaults.TrainBatch})."
            | Quick -> "the same batches, timed briefly (what the demo runs)."
            | Memory ->
                "time nothing: print the arrays the autograd graph keeps alive after one training forward (--train-batch), by op, against what the backward reads and against PyTorch's saved tensors (a table; --json does not apply)."

type ExtractBenchArgs =
    | Files of int
    | Quick
    | Db of location: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Db _ ->
                $"a PostgreSQL catalog (postgres://...): also store the first {ExtractBench.catalogFiles} files in a new SQLite file (1 process) and through this database's work queue with 1 and 2 workers, each in a schema of its own that is dropped afterwards; and time the content hash alone and the store alone (the extracted models inserted by 1 and 2 writers)."
            | Files _ -> $"synthetic safetensors files to generate and read (default {ExtractBench.defaults.Files})."
            | Quick -> "1,000 files and brief timing (what the demo runs)."

type ReengineerBenchArgs =
    | Images of int
    | Reengineered of dir: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Images _ -> $"images in the timed epoch, in batches of 64 (default {ReengineerBench.defaults.Images})."
            | Reengineered _ ->
                "also time a hybrid reengineer output folder's model at batch 1 and 16: our sparse kernels against our dense ones and ONNX Runtime on its model.onnx (32x32 images)."

type AnomalyBenchArgs =
    | Data of path: string
    | Label of field: string
    | Min_Class_Count of int
    | Epochs of int

    interface IArgParserTemplate with
        member a.Usage =
            let d = AnomalyBench.defaults
            match a with
            | Data _ -> "the trace file (JSON Lines; default ../shared's dev traces)."
            | Label _ -> "model_type (default), arch or task."
            | Min_Class_Count _ -> $"classes with fewer models are merged into Others (default {d.MinClassCount})."
            | Epochs _ -> $"training epochs per fold (default {d.Epochs})."

type BenchArgs =
    | [<CliPrefix(CliPrefix.None)>] Gemm of ParseResults<GemmArgs>
    | [<CliPrefix(CliPrefix.None)>] Conv of ParseResults<ConvArgs>
    | [<CliPrefix(CliPrefix.None)>] Gmm of ParseResults<GmmBenchArgs>
    | [<CliPrefix(CliPrefix.None)>] Cka of ParseResults<CkaBenchArgs>
    | [<CliPrefix(CliPrefix.None)>] Cka_Index of ParseResults<CkaIndexBenchArgs>
    | [<CliPrefix(CliPrefix.None)>] Fuzz of ParseResults<FuzzArgs>
    | [<CliPrefix(CliPrefix.None)>] Resnet of ParseResults<ResnetBenchArgs>
    | [<CliPrefix(CliPrefix.None)>] Extract of ParseResults<ExtractBenchArgs>
    | [<CliPrefix(CliPrefix.None)>] Reengineer of ParseResults<ReengineerBenchArgs>
    | [<CliPrefix(CliPrefix.None)>] Anomaly of ParseResults<AnomalyBenchArgs>
    | [<Inherit>] Device of DeviceName
    | [<Inherit>] Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Gemm _ -> "SGEMM against NumPy matmul (float32, square)."
            | Conv _ ->
                "conv2d forward + backward, masked and unmasked, against PyTorch on CIFAR ResNet-20 / VGG-16 shapes; sparse vs dense."
            | Gmm _ ->
                "Gaussian-mixture EM against scikit-learn from the same start, per covariance type, lower bounds compared."
            | Cka _ ->
                "the layer-by-layer CKA matrix against NumPy float64, and exact top-k search over CKA encodings against NumPy."
            | Cka_Index _ ->
                "indexing a CIFAR ResNet-56 against PyTorch hooks + NumPy, and top-k search through the catalog over 100,000 stored layers against NumPy."
            | Resnet _ ->
                "CIFAR ResNet-20 inference (batch 256) and one SGD training step (batch 64) against PyTorch on the CPU."
            | Extract _ ->
                "architecture extraction in files per second: the torchvision ONNX graphs and 10,000 synthetic safetensors headers (no peer)."
            | Reengineer _ ->
                "one mask-training epoch of SeaM's re-engineering of ResNet-20 (binary problem, 1,182 images) against the same masked training in PyTorch."
            | Anomaly _ ->
                "naming-anomaly cross-validation (5 folds, 40 epochs, class mixtures) on the dev traces against the same pipeline in scikit-learn."
            | Fuzz _ ->
                "the file readers against mutated real files: every input must load or fail cleanly (exit 1 otherwise)."
            | Device _ ->
                "device to run ours on: cpu, gpu, reference, or auto (the default: gpu when CUDA is present, else cpu)."
            | Json ->
                "print one JSON document {benchmark, device, cores, cases: [{case, ours_s, peer, peer_s, speedup, note}]}."

type EvalArgs =
    | [<Mandatory>] Model of path: string
    | Arch of name: string
    | [<Mandatory>] Dataset of spec: string
    | Mean of values: string
    | Std of values: string
    | Batch of int
    | Device of DeviceName
    | Engine of name: string
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ ->
                "the model: .safetensors, .pt / .pth / .bin / .th (PyTorch zip or legacy; nothing in it runs), a Hugging Face folder, or .onnx (runs the graph)."
            | Arch _ ->
                "zoo architecture of a weight file (default: the one whose tensor names and shapes match). See hybrid train --help for the names."
            | Dataset _ ->
                "images to classify: cifar10:FILE, cifar100:FILE, fashion-mnist[:DIR] (test split), mnist:DIR, folder:DIR or random:N:CxHxW[:SEED]."
            | Mean _ -> meanUsage
            | Std _ -> stdUsage
            | Batch _ -> $"images per forward pass (default {eval.Batch})."
            | Device _ -> autoDevice
            | Engine _ -> engineUsage
            | Json -> "print one JSON document {accuracy, n, correct, classes, confusion, model, device}."

type ScheduleName =
    | Cosine
    | Step
    | Constant

type TrainArgs =
    | [<Mandatory>] Arch of name: string
    | [<Mandatory>] Dataset of spec: string
    | Test_Dataset of spec: string
    | Epochs of int
    | Batch of int
    | Lr of float
    | Momentum of float
    | No_Nesterov
    | Weight_Decay of float
    | Schedule of ScheduleName
    | Step_Size of int
    | Gamma of float
    | Crop_Padding of int
    | No_Flip
    | Mean of values: string
    | Std of values: string
    | Seed of int
    | [<Mandatory>] Out of path: string
    | Resume
    | Device of DeviceName
    | Engine of name: string
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Arch _ -> "zoo architecture: " + System.String.Join(", ", Hybrid.Core.Nn.Zoo.Zoo.ImageNames) + "."
            | Dataset _ ->
                "training images (fashion-mnist and mnist: the training split): cifar10:FILE, cifar100:FILE, fashion-mnist[:DIR], mnist:DIR, folder:DIR, random:N:CxHxW[:SEED]."
            | Test_Dataset _ ->
                "images to evaluate after each epoch (default: the test split for fashion-mnist and mnist, none otherwise)."
            | Epochs _ -> $"passes over the training set (default {train.Epochs})."
            | Batch _ -> $"images per step (default {train.BatchSize})."
            | Lr _ -> $"initial learning rate (default {text train.LearningRate})."
            | Momentum _ -> $"SGD momentum (default {text train.Momentum})."
            | No_Nesterov -> "plain momentum instead of Nesterov's."
            | Weight_Decay _ -> $"L2 weight decay (default {text train.WeightDecay})."
            | Schedule _ ->
                "learning-rate schedule, stepped every batch: cosine (to 0 at the end, the default), step or constant."
            | Step_Size _ -> $"epochs between decays of the step schedule (default {stepSchedule.StepSize})."
            | Gamma _ -> $"decay factor of the step schedule (default {text stepSchedule.Gamma})."
            | Crop_Padding _ ->
                $"random crop after zero padding by this many pixels (default {train.CropPadding}; 0 turns it off)."
            | No_Flip -> "no random horizontal flips."
            | Mean _ -> meanUsage
            | Std _ -> stdUsage
            | Seed _ -> $"seed of the initial weights, the data order and the augmentation (default {train.Seed})."
            | Out _ ->
                "where to write the trained model: .safetensors, .pt / .pth or .onnx. A checkpoint OUT.checkpoint.safetensors is written after every epoch."
            | Resume -> "continue from OUT.checkpoint.safetensors when it exists (same options required)."
            | Device _ -> autoDevice
            | Engine _ -> trainingEngineUsage
            | Json -> "print one JSON document with the per-epoch loss and accuracies instead of a table."

type ExtractArgs =
    | [<MainCommand; Mandatory>] Paths of path: string list
    | Db of path: string
    | Task of name: string
    | Recursive
    | Json
    | Enqueue
    | Workers of count: int

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Enqueue ->
                "record the files in the catalog's work queue for hybrid worker instead of extracting them here (PostgreSQL catalogs)."
            | Workers _ -> "enqueue, then run this many local hybrid worker processes on the queue until it is done."
            | Paths _ ->
                "model files (.onnx, .safetensors, .pt .pth .th .bin .ckpt, trace .jsonl) and folders: a Hugging Face model folder or hub cache entry is one model, another folder gives the model files and model folders in it."
            | Db _ -> newCatalogUsage
            | Task _ ->
                "task stored for every model of this run (default: the model's own, from config.json or the trace line)."
            | Recursive -> "also look in sub-folders."
            | Json ->
                "print one JSON document {db, stored, skipped, failed, summary} instead of progress and a summary."

type AnalyzeArgs =
    | Db of path: string
    | [<Mandatory>] Out of dir: string
    | From of paths: string list
    | Task of task: string
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Db _ -> $"the catalog to report on (default ./{db}, filled by hybrid extract)."
            | Out _ ->
                "the report folder: index.html, report.md, metrics.csv, layers.csv, charts/*.json. Replaced when it holds an earlier report; any other non-empty folder is refused."
            | From _ ->
                "analyze these model files or folders instead of the catalog (anything hybrid extract reads: .onnx, .safetensors, PyTorch checkpoints, Hugging Face folders, .jsonl traces, zoo:NAME)."
            | Task _ -> "the task of the models given with --from (default: each model's declared task, else unknown)."
            | Json -> "print one JSON document {index, out, models, layers, tasks, files} instead of a table."

type DedupStrategy =
    | Name
    | Architecture
    | Both

type DedupArgs =
    | Db of path: string
    | [<Mandatory>] Strategy of DedupStrategy
    | Threshold of float
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Db _ -> catalogUsage
            | Strategy _ ->
                "name (same base name), architecture (same structural hash, or similarity >= threshold) or both (either)."
            | Threshold _ -> $"similarity at which two architectures are duplicates (default {text dedup.Threshold})."
            | Json ->
                "print one JSON document {strategy, threshold, models, scored_pairs, groups, pairs} instead of tables."

type DemoArgs =
    | Device of DeviceName list
    | Seed of int

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Device _ -> $"devices for the self-check (default: {deviceWords selfCheckDevices})."
            | Seed _ -> $"seed of the self-check (default {selfCheck.Seed})."

type ReengineerSchedule =
    | Published
    | Fast

type ReengineerArgs =
    | [<Mandatory>] Model of path: string
    | Arch of name: string
    | [<Mandatory>] Dataset of spec: string
    | Target_Class of name_or_index: string
    | Target_Classes of names: string
    | Split of counts: string
    | Lr_Mask of float
    | Lr_Head of float
    | Alpha of float
    | Schedule of ReengineerSchedule
    | Epochs of int
    | Prune_Threshold of float
    | Seed of int
    | Mean of values: string
    | Std of values: string
    | [<Mandatory>] Out of dir: string
    | Resume
    | Device of DeviceName
    | Engine of name: string
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            let d = Hybrid.Analysis.Reengineering.MaskTraining.defaults
            match a with
            | Model _ ->
                "the pre-trained classifier: a zoo architecture's weights in any format hybrid eval reads (not ONNX)."
            | Arch _ -> archUsage
            | Dataset _ ->
                "the labelled images the target problem is drawn from (fashion-mnist and mnist: the training split): cifar10:FILE, cifar100:FILE, fashion-mnist[:DIR], mnist:DIR, folder:DIR."
            | Target_Class _ ->
                "binary target problem: this class (name or index) against an equal seeded sample of the rest."
            | Target_Classes _ ->
                "multi-class target problem: classes C1,C2,... (names or indices), a group (footwear, tops, vehicles, animals) or a CIFAR-100 superclass name."
            | Split _ ->
                let s = Hybrid.Analysis.Reengineering.TargetProblem.defaultSplitPercent
                sprintf
                    "images of the dataset for training, validation and test, TRAIN,VAL,TEST (default %d%%, %d%%, %d%%), drawn with the seed."
                    s.Train
                    s.Validation
                    (100 - s.Train - s.Validation)
            | Lr_Mask _ -> $"Adam learning rate of the mask scores (default {d.LrMask})."
            | Lr_Head _ -> $"Adam learning rate of the new head (default {d.LrHead})."
            | Alpha _ -> $"weight of the weight ratio in the loss (default {d.Alpha})."
            | Schedule _ ->
                $"published (SeaM's, the default) or fast (scores from weight magnitudes, alpha steered to {d.FastTarget} of the weights over {d.FastRampEpochs} epochs)."
            | Epochs _ -> $"mask-training epochs (default {d.Epochs}; every fifth, from 0, trains the head only)."
            | Prune_Threshold _ ->
                "stop once this share of the weights is removed (SeaM's prune_threshold; default: never)."
            | Seed _ -> $"seed of the split, the sampling, the head and the data order (default {d.Seed})."
            | Mean _ -> meanUsage
            | Std _ -> stdUsage
            | Out _ ->
                "folder for masks.safetensors, model.safetensors, model.onnx, report.json, report.html and the checkpoint."
            | Resume -> "continue from the folder's checkpoint (same options)."
            | Device _ -> autoDevice
            | Engine _ -> trainingEngineUsage
            | Json -> "print the report as one JSON document."

type DefectsArgs =
    | [<Mandatory>] Original of path: string
    | Arch of name: string
    | [<Mandatory>] Reengineered of dir: string
    | Dataset of spec: string
    | Train_Count of int
    | Test_Count of int
    | Image_Size of int
    | Epochs of int
    | Lr of float
    | Batch of int
    | Seed of int
    | Mean of values: string
    | Std of values: string
    | Eps of float
    | Steps of int
    | Step_Size of float
    | No_Random_Start
    | Device of DeviceName
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            let d = Hybrid.Analysis.Reengineering.Defects.defaults
            let attack = Hybrid.Analysis.Reengineering.TransferAttack.seam
            match a with
            | Original _ -> "the pre-trained classifier that was re-engineered (any format hybrid reengineer reads)."
            | Arch _ -> archUsage
            | Reengineered _ -> "the --out folder of hybrid reengineer (its masks.safetensors)."
            | Dataset _ ->
                $"the target dataset to fine-tune on and attack (default {defects.Dataset}: the training split to fine-tune, the test split to attack; any other dataset is split in two): cifar10:FILE, cifar100:FILE, fashion-mnist[:DIR], mnist:DIR, folder:DIR, random:N:CxHxW[:SEED]. Grey images are repeated to the model's channels."
            | Train_Count _ -> $"fine-tuning images, a seeded sample (default {defects.TrainCount})."
            | Test_Count _ -> $"test images to attack, a seeded sample (default {defects.TestCount})."
            | Image_Size _ -> $"smaller images are zero-padded to this size (default {defects.ImageSize})."
            | Epochs _ -> $"fine-tuning epochs of each model (default {d.Epochs})."
            | Lr _ ->
                $"SGD learning rate of the pretrained layers (default {d.Lr}; the new classifier learns at {Hybrid.Analysis.Reengineering.Defects.headLrFactor} times it; momentum {d.Momentum}, weight decay {text d.WeightDecay})."
            | Batch _ -> $"batch size of fine-tuning and of the attack (default {d.BatchSize})."
            | Seed _ ->
                $"seed of the samples, the data order, the new classifiers and the attack's start (default {d.Seed})."
            | Mean _ -> meanUsage
            | Std _ -> stdUsage
            | Eps _ -> $"L-inf radius of the attack in normalised input space (default {attack.Epsilon})."
            | Steps _ -> $"PGD steps (default {attack.Steps})."
            | Step_Size _ -> $"PGD step size (default {attack.StepSize})."
            | No_Random_Start -> "start PGD from the clean image instead of a random point of the eps-ball."
            | Device _ -> autoDevice
            | Json -> jsonResultUsage

type AnomalyTrainArgs =
    | Data of path: string list
    | Db of path: string
    | Label of field: string
    | Min_Class_Count of int
    | Folds of int
    | Seed of int
    | Scaling of name: string
    | Trigrams
    | Shapes
    | Normalised_Names
    | Positions of int
    | Min_Df of int
    | Epochs of int
    | Lr of float
    | Batch_Size of int
    | Step_Every of int
    | Width of int
    | Dropout of float
    | No_Mixtures
    | Covariance of CovarianceName
    | Max_Components of int
    | Filter_Noisy of posterior: float
    | Tau of float
    | Epsilon of float
    | [<Mandatory>] Out of dir: string
    | Device of DeviceName
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            let c, m = Hybrid.Analysis.Naming.Classifier.defaults, Hybrid.Analysis.Naming.Mixtures.defaults
            match a with
            | Data _ -> "trace files (JSON Lines, one model per line: repo_name, model_type, arch, task, layers)."
            | Db _ -> "also train on every model of this catalog (hybrid extract), with its stored labels."
            | Label _ -> "the label to predict: model_type (default), arch or task."
            | Min_Class_Count _ ->
                $"classes with fewer models are merged into Others (default {anomaly.MinClassCount}, as DARA)."
            | Folds _ -> $"stratified cross-validation folds (default {anomaly.Folds})."
            | Seed _ -> $"seed of the folds, the weights, the batch order and dropout (default {c.Seed})."
            | Scaling _ -> $"feature values: count, log or tfidf (default {anomaly.Scaling})."
            | Trigrams -> "add 3-grams along paths of the graph."
            | Shapes -> "add counts of output shapes."
            | Normalised_Names ->
                "n-grams over the normalised layer types also for traces (default: the traced names as spelled)."
            | Positions _ ->
                $"add each layer's name with its distance from the sources and to the sinks, below this (default {Hybrid.Analysis.Naming.CrossValidation.defaults.Features.Positions}; 0: none)."
            | Min_Df _ ->
                $"keep the n-grams held by at least this many training models (default {anomaly.MinDocuments})."
            | Epochs _ -> $"training epochs (default {c.Epochs})."
            | Lr _ -> $"Adam's learning rate (default {text c.LearningRate})."
            | Batch_Size _ -> $"training batch size (default {c.BatchSize})."
            | Step_Every _ -> $"the learning rate times 0.1 every this many epochs (default {c.StepEvery})."
            | Width _ ->
                $"width of the first hidden layer; the next two are half and a quarter (default {List.head c.Widths})."
            | Dropout _ -> $"dropout probability (default {c.Dropout})."
            | No_Mixtures -> "no class mixtures: flags from the classifier alone."
            | Covariance _ ->
                $"covariance type of the class mixtures (default {Hybrid.Core.Gpu.CovarianceTypeNames.SklearnName m.Covariance})."
            | Max_Components _ -> $"BIC picks 1 to this many components per class (default {m.MaxComponents})."
            | Filter_Noisy _ ->
                "train twice: the second time without the training models whose declared class's posterior among the first fit's mixtures is below this (likely mislabelled)."
            | Tau _ -> tauUsage
            | Epsilon _ ->
                $"with mixtures, flag only when the declared class's posterior among the mixtures is below this (default {epsilonDefault})."
            | Out _ ->
                "the classifier folder to write (weights, vocabulary, classes, mixtures, confusion.html, embedding.html)."
            | Device _ -> autoDevice
            | Json -> jsonResultUsage

type AnomalyCheckArgs =
    | [<MainCommand>] Inputs of path: string list
    | [<Mandatory>] Classifier of dir: string
    | Db of path: string
    | Tau of float
    | Epsilon of float
    | No_Mixtures
    | Top of int
    | Device of DeviceName
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Inputs _ -> "trace files (JSON Lines), model files or folders, zoo:NAME."
            | Classifier _ -> "a folder written by hybrid anomaly train."
            | Db _ -> "also check every model of this catalog."
            | Tau _ -> tauUsage
            | Epsilon _ ->
                $"flag only when the declared class's posterior among the mixtures is below this (default {epsilonDefault})."
            | No_Mixtures -> "flag from the classifier alone."
            | Top _ -> $"rows to print in the table (default {anomaly.Top}; --json prints all)."
            | Device _ -> autoDevice
            | Json -> jsonResultUsage

type AnomalyArgs =
    | [<CliPrefix(CliPrefix.None)>] Train of ParseResults<AnomalyTrainArgs>
    | [<CliPrefix(CliPrefix.None)>] Check of ParseResults<AnomalyCheckArgs>

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Train _ ->
                "cross-validate and train the naming classifier (DARA) with class mixtures; write the classifier folder."
            | Check _ -> "predict each model's label from its architecture and flag declared labels that do not fit."

type ServeArgs =
    | Db of path: string
    | Port of int
    | Host of address: string
    | Cache_Seconds of int
    | Redis of endpoint: string
    | Probe of spec: string
    | Probe_Count of int
    | Probe_First of int
    | Mean of values: string
    | Std of values: string
    | Max_Upload_Mb of int
    | Device of DeviceName
    | Dataset of spec: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Dataset _ ->
                "images the model-analysis endpoints (/analysis/MODEL/VERSION/confusion, maps, maximise) run on: a dataset SPEC as hybrid eval takes (normalised by --mean / --std, as the probe)."
            | Db _ -> $"the catalog holding the CKA index (default ./{db})."
            | Port _ -> $"TCP port (default {serve.Port}; 0: a free one, printed)."
            | Host _ ->
                $"IP address to listen on (default {serve.Host}: this machine only; 0.0.0.0 exposes the API to the network)."
            | Cache_Seconds _ ->
                $"how long an answer stays in the response cache (default {serve.CacheSeconds}; 0: no cache)."
            | Redis _ ->
                "keep the cached answers in the Redis server at HOST:PORT (e.g. 127.0.0.1:6379) instead of in memory; while it does not answer, the server answers uncached and logs that once."
            | Probe _ ->
                "the probe data set SPEC models uploaded to POST /models are indexed on, as for cka index (default: the probe set an upload names with ?probe=ID, else the catalog's only one)."
            | Probe_Count _ -> $"probe inputs of --probe (default {cka.ProbeCount}; 4 to {cka.MaxProbeCount})."
            | Probe_First _ -> $"index of the first probe input of --probe in the data set (default {cka.ProbeFirst})."
            | Mean _ -> meanUsage
            | Std _ -> stdUsage
            | Max_Upload_Mb _ -> $"the largest model file POST /models takes, in MiB (default {serve.MaxUploadMb})."
            | Device _ -> autoDevice

type AnalyzeModelArgs =
    | [<MainCommand; Mandatory>] Model of path: string
    | Arch of name: string
    | [<Mandatory>] Dataset of spec: string
    | Mean of values: string
    | Std of values: string
    | Count of int
    | [<Mandatory>] Out of dir: string
    | Views of list: string
    | Layer of path: string
    | Channels of int list
    | Classes of int list
    | K of int
    | Image of int
    | Steps of int
    | Step_Size of float
    | L2_Decay of float
    | Jitter of int
    | Blur_Every of int
    | Blur_Sigma of float
    | Seed of int
    | Batch of int
    | Device of DeviceName
    | Json

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Model _ ->
                "the model: any file hybrid eval runs (.safetensors, .pt / .pth / .th, a Hugging Face folder; .onnx for the confusion view only)."
            | Arch _ -> archUsage
            | Dataset _ ->
                "the images: cifar10:FILE, cifar100:FILE, fashion-mnist[:DIR] (test split), mnist:DIR, folder:DIR or random:N:CxHxW[:SEED]."
            | Mean _ -> meanUsage
            | Std _ -> stdUsage
            | Count _ -> "use the first N images of the dataset (default all)."
            | Out _ -> "folder for the PNG, CSV and JSON files and index.html (created)."
            | Views _ ->
                $"comma-separated views: confusion (matrix, k most confident images per cell), maps (activation maps of --channels of --layer for --image), maximise (inputs that maximise --channels of --layer, or --classes) (default {analyzeModel.Views})."
            | Layer _ ->
                "module path whose channels maps and maximisation show (e.g. layer3.2.conv2; default: the last Conv2d; maximisation then targets classes)."
            | Channels _ ->
                $"channels of --layer (default: maps show the {analyzeModel.Channels} most active on the image, maximisation channels 0-{analyzeModel.Channels - 1})."
            | Classes _ -> "classes to maximise when no --layer is named (default: the first 10)."
            | K _ -> $"most confident images kept per confusion cell (default {analyzeModel.K})."
            | Image _ -> $"dataset index of the image the maps are drawn for (default {analyzeModel.Image})."
            | Steps _ -> $"gradient-ascent steps of maximisation (default {analyzeModel.Maximise.Steps})."
            | Step_Size _ ->
                $"how far the average pixel moves per step, in normalised units (default {text analyzeModel.Maximise.StepSize})."
            | L2_Decay _ ->
                $"per-step decay of the image towards the mean colour (default {text analyzeModel.Maximise.L2Decay})."
            | Jitter _ -> $"random shift in pixels before each gradient (default {analyzeModel.Maximise.Jitter})."
            | Blur_Every _ -> $"Gaussian blur every N steps (default {analyzeModel.Maximise.BlurEvery}; 0: never)."
            | Blur_Sigma _ -> $"that blur's sigma in pixels (default {text analyzeModel.Maximise.BlurSigma})."
            | Seed _ -> $"seed of the starting noise and the jitter (default {analyzeModel.Maximise.Seed})."
            | Batch _ -> $"images per forward pass of the confusion view (default {eval.Batch})."
            | Device _ -> autoDevice
            | Json ->
                "print one JSON document {model, network, dataset, n, out, index, confusion, maps, maximised, settings, device}."

type HybridArgs =
    | [<CliPrefix(CliPrefix.None)>] Demo of ParseResults<DemoArgs>
    | [<CliPrefix(CliPrefix.None)>] Selfcheck of ParseResults<SelfCheckArgs>
    | [<CliPrefix(CliPrefix.None)>] Inspect of ParseResults<InspectArgs>
    | [<CliPrefix(CliPrefix.None)>] Extract of ParseResults<ExtractArgs>
    | [<CliPrefix(CliPrefix.None)>] Dedup of ParseResults<DedupArgs>
    | [<CliPrefix(CliPrefix.None)>] Analyze of ParseResults<AnalyzeArgs>
    | [<CliPrefix(CliPrefix.None)>] Eval of ParseResults<EvalArgs>
    | [<CliPrefix(CliPrefix.None)>] Train of ParseResults<TrainArgs>
    | [<CliPrefix(CliPrefix.None)>] Gmm of ParseResults<GmmArgs>
    | [<CliPrefix(CliPrefix.None)>] Cka of ParseResults<CkaArgs>
    | [<CliPrefix(CliPrefix.None)>] Reengineer of ParseResults<ReengineerArgs>
    | [<CliPrefix(CliPrefix.None)>] Defects of ParseResults<DefectsArgs>
    | [<CliPrefix(CliPrefix.None)>] Bench of ParseResults<BenchArgs>
    | [<CliPrefix(CliPrefix.None)>] Anomaly of ParseResults<AnomalyArgs>
    | [<CliPrefix(CliPrefix.None)>] Serve of ParseResults<ServeArgs>
    | [<CliPrefix(CliPrefix.None)>] Analyze_Model of ParseResults<AnalyzeModelArgs>
    | [<CliPrefix(CliPrefix.None)>] Worker of ParseResults<QueueArgs.WorkerArgs>
    | [<CliPrefix(CliPrefix.None)>] Queue of ParseResults<QueueArgs.QueueArgs>
    | Version

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Demo _ ->
                "the tour: kernel self-check on every backend, short benchmarks, then Gaussian mixtures, CKA and training a small CNN on Fashion-MNIST, a structure report of the zoo and the trained files, that CNN re-engineered for one target problem, its layers searched in an untrained copy, and naming anomalies flagged by a classifier trained on the zoo."
            | Selfcheck _ -> "compare every backend with the reference kernels on seeded random shapes."
            | Inspect _ ->
                "what is inside a model: format, tensors, parameter count and module hierarchy, from headers only; with --graph its abstract architecture (a DAG of layers)."
            | Gmm _ -> "Gaussian mixtures: fit."
            | Cka _ -> "layer similarity (centred kernel alignment): score, index, search, compare."
            | Eval _ -> "classify a dataset with a model (any format) and print accuracy, n and the confusion matrix."
            | Train _ ->
                "train a zoo architecture on an image dataset, with progress, a checkpoint per epoch and --resume."
            | Extract _ ->
                "extract the architectures of model files and folders into the catalog (files already catalogued are skipped)."
            | Dedup _ ->
                "group the catalog's models that are duplicates by name or by architecture, with a representative per group."
            | Reengineer _ ->
                "SeaM model re-engineering: learn weight masks that keep only what a target problem (one class, or a few) needs; report weights kept, accuracies, FLOPs and dense vs sparse time."
            | Defects _ ->
                "SeaM's defect inheritance: fine-tune the original and its re-engineered version on a target dataset, attack them with adversarial images crafted on the original's features, and compare their defect rates."
            | Bench _ -> "benchmarks against the tools users would otherwise pick (NumPy, PyTorch, scikit-learn)."
            | Analyze _ ->
                "structure report over a set of models: layer-type distributions, heatmaps, nesting levels, metrics and per-layer CSV, interactive HTML."
            | Anomaly _ ->
                "naming anomalies (DARA): train a classifier of model_type, arch or task on n-grams of architectures, and check which models' declared labels their architecture contradicts."
            | Serve _ ->
                "the HTTP API (JSON, cached in memory or Redis, on 127.0.0.1 by default) over the CKA layer index: /health, /models, /models/M/V/layers, /M/V/LAYER/search, /compare, POST /models to index an uploaded model, and a web page at /."
            | Analyze_Model _ ->
                "look inside a classifier: confusion matrix with the most confident images per cell, activation maps of chosen channels, activation maximisation; PNG files and index.html."
            | Worker _ ->
                "extract the files of a PostgreSQL catalog's work queue (hybrid extract --enqueue), with any number of workers on any number of machines."
            | Queue _ -> "the work queue of a PostgreSQL catalog: status."
            | Version -> "print the version."

/// The Core.Gpu device for a parsed name.
let device (name: DeviceName) =
    match name with
    | Cpu -> Hybrid.Core.Gpu.Device.Cpu
    | Gpu -> Hybrid.Core.Gpu.Device.Gpu()
    | Reference -> Hybrid.Core.Gpu.Device.Reference
    | Auto -> Hybrid.Core.Gpu.Device.Parse "auto"

/// What hands a loaded network to the engine named (Core.Nn runs it as loaded).
let engine (name: EngineName) =
    match name with
    | Core -> id
    | Torchsharp -> Hybrid.TorchInterop.Engine.network

/// The device of a command that trains: --device's on Core.Nn; TorchSharp's engine runs on the CPU.
let trainingDevice (name: EngineName) (d: DeviceName) =
    match name with
    | Core -> device d
    | Torchsharp -> Hybrid.Core.Gpu.Device.Cpu

/// The learner of hybrid train on the engine named.
let trainEngine (name: EngineName) =
    match name with
    | Core -> Hybrid.Analysis.Training.coreEngine
    | Torchsharp -> Hybrid.TorchInterop.Learners.training

/// The learner of hybrid reengineer on the engine named.
let maskEngine (name: EngineName) =
    match name with
    | Core -> Hybrid.Analysis.Reengineering.MaskTraining.coreEngine
    | Torchsharp -> Hybrid.TorchInterop.Learners.masking

/// The covariance type for a parsed name.
let covariance (name: CovarianceName) =
    match name with
    | Full -> Hybrid.Core.Gpu.CovarianceType.Full
    | Tied -> Hybrid.Core.Gpu.CovarianceType.Tied
    | Diag -> Hybrid.Core.Gpu.CovarianceType.Diag
    | Spherical -> Hybrid.Core.Gpu.CovarianceType.Spherical
