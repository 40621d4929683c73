/// Abstract architectures: ONNX graphs against the files' own counts and a reachability check written here, zoo
/// hierarchies against PyTorch's named_modules, one model in four formats, trace files, and bad input.
module Hybrid.Tests.ArchitectureTests

open System
open System.Collections.Generic
open System.IO
open Expecto
open Hybrid.Core.Nn.Formats.Onnx
open Hybrid.Core.Nn.Formats.Onnx.Reader
open Hybrid.Analysis
open Hybrid.Analysis.Architecture

let private corpus = "data/torchvision-architectures"

let private onnxFiles () = Directory.GetFiles(sharedPath corpus, "*.onnx") |> Array.sort |> List.ofArray

let private opCounts (model: OnnxModel) = model.Nodes |> Seq.countBy _.OpType |> Map.ofSeq

let private bfs (starts: int seq) (step: int -> int[]) =
    let seen = HashSet<int>(starts)
    let queue = Queue<int>(seen)
    while queue.Count > 0 do
        for m in step (queue.Dequeue()) do
            if seen.Add m then
                queue.Enqueue m
    seen

/// The Identity nodes that copy a parameter (an initializer, a fixed-shape graph input after the data, or another
/// copy): the exporter's bookkeeping for shared parameters, which the abstract architecture folds away.
let parameterCopies (model: OnnxModel) =
    let parameters = HashSet<string>(model.Initializers.Keys)
    if parameters.Count = 0 then
        for input in Seq.skip 1 model.Inputs do
            if not (isNull input.Shape) && input.Shape |> Seq.forall (fun d -> d.Value.HasValue) then
                parameters.Add input.Name |> ignore
    [ for n in model.Nodes do
          if n.OpType = "Identity" && n.Inputs.Count = 1 && parameters.Contains n.Inputs[0] then
              for o in n.Outputs do
                  parameters.Add o |> ignore
              yield n ]

/// Checks, from the ONNX file itself, that the architecture's kept nodes and edges are the file's nodes and value
/// flow, that the edges go forward (a DAG in topological order) and that every kept node is reachable from a source
/// and reaches an output.
let private checkOnnxGraph (model: OnnxModel) (a: Architecture) =
    let byName = model.Nodes |> Seq.map (fun n -> n.Name, n) |> dict
    let copies = parameterCopies model
    Expect.equal
        (a.Nodes.Length + a.Pruned.Length + copies.Length)
        model.Nodes.Count
        "kept + pruned + parameter copies = the file's nodes"
    a.Nodes |> Array.iteri (fun i n -> Expect.equal n.Id i "ids are indexes")
    for x, y in a.Edges do
        Expect.isLessThan x y $"edge {x} -> {y} goes forward (topological order, hence no cycle)"
    let producer = Dictionary<string, int>()
    for n in a.Nodes do
        for o in byName[n.Name].Outputs do
            producer[o] <- n.Id
    let expectedEdges =
        set
            [ for n in a.Nodes do
                  for v in byName[n.Name].Inputs do
                      match producer.TryGetValue v with
                      | true, p -> p, n.Id
                      | _ -> () ]
    Expect.equal (set a.Edges) expectedEdges "edges are the value flow between kept nodes"
    let graphInputs =
        HashSet<string>(
            Seq.concat [ model.Inputs |> Seq.map _.Name; model.Initializers.Keys; copies |> Seq.collect _.Outputs ]
        )
    let outputs = HashSet<string>(model.Outputs |> Seq.map _.Name)
    let sources =
        [ for n in a.Nodes do
              let inputs = byName[n.Name].Inputs |> Seq.filter ((<>) "") |> List.ofSeq
              if inputs.IsEmpty || inputs |> List.exists graphInputs.Contains then
                  n.Id ]
    let sinks =
        [ for n in a.Nodes do
              if byName[n.Name].Outputs |> Seq.exists outputs.Contains then
                  n.Id ]
    let next = a.Edges |> Array.groupBy fst |> Array.map (fun (k, es) -> k, Array.map snd es) |> dict
    let previous = a.Edges |> Array.groupBy snd |> Array.map (fun (k, es) -> k, Array.map fst es) |> dict
    let get (d: IDictionary<int, int[]>) k =
        match d.TryGetValue k with
        | true, v -> v
        | _ -> [||]
    let fromSources = bfs sources (get next)
    let toOutputs = bfs sinks (get previous)
    for n in a.Nodes do
        Expect.isTrue (fromSources.Contains n.Id) $"{n.Name} is reachable from a source"
        Expect.isTrue (toOutputs.Contains n.Id) $"{n.Name} reaches an output"

type private ModuleRow = { Path: string; Type: string; Depth: int; Leaf: bool }

let private modulesJson (name: string) =
    use doc = readJson (sharedFile $"{corpus}/{name}.modules.json")
    [ for m in doc.RootElement.GetProperty("modules").EnumerateArray() ->
          { Path = m.GetProperty("path").GetString()
            Type = m.GetProperty("type").GetString()
            Depth = m.GetProperty("depth").GetInt32()
            Leaf = m.GetProperty("leaf").GetBoolean() } ]

/// The parameterised layers: (layer type, weight shape) of every node with a weight, as a sorted multiset.
let private weightedLayers (a: Architecture) =
    [ for n in a.Nodes do
          match n.Parameters |> List.tryFind (fun (p, _) -> p = "weight") with
          | Some(_, shape) -> n.LayerType, List.ofArray shape
          | None -> () ]
    |> List.sort

let private runGraphJson (path: string) =
    let code, out, err = CliTests.runCli [ "inspect"; path; "--graph"; "--json" ]
    Expect.equal code 0 $"exit code (stderr: {err})"
    parseJson out

/// An ONNX model built here: x -> Relu "a" -> Add(a, c) "y" (the output) with c from a Constant; a Sigmoid of "a"
/// that nothing reads; and a Neg of a value nobody defines that feeds a second output.
let private handBuiltOnnx () =
    let node name op (inputs: string list) (outputs: string list) =
        let n = Proto.NodeProto(Name = name, OpType = op)
        n.Input.Add inputs
        n.Output.Add outputs
        n
    let graph = Proto.GraphProto(Name = "pruning")
    graph.Node.Add
        [ node "/a/Relu" "Relu" [ "x" ] [ "a" ]
          node "/c/Constant" "Constant" [] [ "c" ]
          node "/y/Add" "Add" [ "a"; "c" ] [ "y" ]
          node "/dead/Sigmoid" "Sigmoid" [ "a" ] [ "unused" ]
          node "/orphan/Neg" "Neg" [ "ghost" ] [ "z" ] ]
    graph.Input.Add(Proto.ValueInfoProto(Name = "x"))
    graph.Output.Add [ Proto.ValueInfoProto(Name = "y"); Proto.ValueInfoProto(Name = "z") ]
    let model = Proto.ModelProto(IrVersion = 7L, Graph = graph)
    model.OpsetImport.Add(Proto.OperatorSetIdProto(Domain = "", Version = 13L))
    OnnxModel.Parse("pruning.onnx", Google.Protobuf.MessageExtensions.ToByteArray model)

[<Tests>]
let tests =
    testList
        "architecture"
        [ testList
              "layer types"
              [ test "one vocabulary across ONNX, modules, our trace and PeaTMOSS tokens" {
                    // Names whose type depends on the rank (Conv over 2 spatial dimensions is Conv2d), then names alone.
                    let ranked =
                        [ ("Conv", 2), "Conv2d"
                          ("Conv", 1), "Conv1d"
                          ("MaxPool", 2), "MaxPool2d"
                          ("AveragePool", 2), "AvgPool2d"
                          ("BatchNorm", 2), "BatchNorm2d"
                          ("BatchNorm", 1), "BatchNorm1d" ]
                    let unranked =
                        [ "Gemm", "Linear"
                          "MatMul", "MatMul"
                          "BatchNormalization", "BatchNorm2d"
                          "Relu", "ReLU"
                          "GlobalAveragePool", "AdaptiveAvgPool2d"
                          "LayerNormalization", "LayerNorm"
                          "Erf", "Erf"
                          "Concat", "Concat"
                          "Softmax", "Softmax"
                          "Conv2d", "Conv2d"
                          "BatchNorm2d", "BatchNorm2d"
                          "ReLU", "ReLU"
                          "Cat", "Concat"
                          "Gelu", "GELU"
                          "Matmul", "MatMul"
                          "MaskedLinear", "Linear"
                          "linear", "Linear"
                          "layernorm", "LayerNorm"
                          "geluactivation", "GELU"
                          "conv2d", "Conv2d"
                          "embedding", "Embedding"
                          "dropout", "Dropout"
                          "add", "Add"
                          "debertalayernorm", "LayerNorm"
                          "llamarmsnorm", "RMSNorm"
                          "t5layernorm", "RMSNorm"
                          "beitdroppath", "DropPath"
                          "masked_fill", "MaskedFill"
                          "contiguous", "Contiguous" ]
                    let cases =
                        [ for (original, rank), expected in ranked -> (original, Some rank), expected ]
                        @ [ for original, expected in unranked -> (original, None), expected ]
                    for (original, rank), expected in cases do
                        Expect.equal (LayerTypes.normalise original rank) expected $"{original} (rank {rank})"
                } ]
          testList
              "graphs"
              [ test "topological order is stable and a cycle is named" {
                    Expect.equal
                        (Graphs.topologicalOrder 4 [| 0, 2; 1, 3; 2, 3 |])
                        (Ok [| 0; 1; 2; 3 |])
                        "file order kept"
                    Expect.equal
                        (Graphs.topologicalOrder 4 [| 3, 1; 1, 2; 2, 3; 0, 1 |])
                        (Error [ 1; 2; 3 ])
                        "the cycle in order"
                }
                test "back edges of a traced recurrence are removed, leaving a DAG" {
                    let edges = [| 0, 1; 1, 2; 2, 1; 2, 3; 3, 0 |]
                    let kept, removed = Graphs.removeBackEdges 4 edges
                    Expect.equal (set removed) (set [ 2, 1; 3, 0 ]) "the edges closing cycles in DFS order"
                    Expect.isTrue (Graphs.topologicalOrder 4 kept |> Result.isOk) "acyclic"
                }
                test "pruning removes nodes no source reaches and nodes that reach no output" {
                    let a = FromOnnx.ofModel "pruning.onnx" (handBuiltOnnx ())
                    Expect.equal (set a.Pruned) (set [ "/dead/Sigmoid"; "/orphan/Neg" ]) "pruned"
                    Expect.equal [ for n in a.Nodes -> n.Name ] [ "/a/Relu"; "/c/Constant"; "/y/Add" ] "kept, in order"
                    Expect.equal a.Edges [| 0, 2; 1, 2 |] "edges"
                    Expect.equal a.OriginalOps.Count 5 "original ops count pruned nodes too"
                }
                test "module paths from the exporter's scopes" {
                    for name, path in
                        [ "/layer1/layer1.0/conv1/Conv", "layer1.0.conv1"
                          "/features/features.1/block/block.2/block.2.0/Conv", "features.1.block.2.0"
                          "/encoder/layers/encoder_layer_0/mlp/mlp.0/Add", "encoder.layers.encoder_layer_0.mlp.0"
                          "/Flatten", ""
                          "Identity_3", "" ] do
                        Expect.equal (FromOnnx.modulePath name) path name
                    let repeated =
                        [ "/layer1/layer1.0/relu/Relu"; "/layer1/layer1.0/relu_1/Relu"; "/encoder/encoder_layer_1/Add" ]
                    Expect.equal
                        (FromOnnx.modulePaths repeated)
                        [| "layer1.0.relu"; "layer1.0.relu"; "encoder.encoder_layer_1" |]
                        "a second call of one module is that module; a module named with a number stays"
                } ]
          testList
              "torchvision onnx"
              [ for file in onnxFiles () ->
                    test (Path.GetFileName file) {
                        let model = OnnxModel.Load file
                        let a = FromOnnx.ofModel file model
                        Expect.equal a.OriginalOps (opCounts model) "op counts equal the file's"
                        checkOnnxGraph model a
                        // Scope-derived module paths name real modules of the PyTorch model.
                        let modules = modulesJson (Path.GetFileNameWithoutExtension file) |> List.map _.Path |> set
                        for n in a.Nodes do
                            if n.ModulePath <> "" then
                                Expect.isTrue
                                    (modules.Contains n.ModulePath)
                                    $"{n.Name}: module {n.ModulePath} is in named_modules"
                    } ]
          testList
              "inspect --graph --json"
              [ for name in [ "resnet18"; "densenet121"; "vit_b_16" ] do
                    yield
                        test name {
                            let file = sharedFile $"{corpus}/{name}.onnx"
                            let model = OnnxModel.Load file
                            use doc = runGraphJson file
                            let root = doc.RootElement
                            let ops =
                                root.GetProperty("ops").EnumerateObject()
                                |> Seq.map (fun p -> p.Name, p.Value.GetInt32())
                                |> Map.ofSeq
                            Expect.equal ops (opCounts model) "ops equal the file's own counts"
                            let layerTotal =
                                root.GetProperty("layer_types").EnumerateObject() |> Seq.sumBy _.Value.GetInt32()
                            let nodes = root.GetProperty("nodes").GetInt32()
                            Expect.equal layerTotal nodes "layer types count the kept nodes"
                            Expect.equal
                                (nodes + root.GetProperty("pruned").GetArrayLength() + (parameterCopies model).Length)
                                model.Nodes.Count
                                "kept + pruned + parameter copies"
                            Expect.isGreaterThan (root.GetProperty("edges").GetInt32()) 0 "edges"
                            Expect.isGreaterThan (root.GetProperty("max_depth").GetInt32()) 0 "max_depth"
                        }
                yield
                    test "dot is Graphviz text of the DAG" {
                        let file = sharedFile $"{corpus}/resnet18.onnx"
                        let code, out, err = CliTests.runCli [ "inspect"; file; "--graph"; "--format"; "dot" ]
                        Expect.equal code 0 err
                        let a = FromOnnx.read file
                        Expect.stringStarts out "digraph \"resnet18\" {" "header"
                        Expect.equal
                            (out.Split('\n') |> Array.filter (fun l -> l.Contains " -> ")).Length
                            a.Edges.Length
                            "one line per edge"
                    } ]
          testList
              "zoo hierarchy equals named_modules"
              [ for zoo, reference in
                    [ "resnet18", "resnet18"
                      "resnet50", "resnet50"
                      "vgg16-bn", "vgg16_bn"
                      "densenet121", "densenet121"
                      "mobilenet-v3-small", "mobilenet_v3_small" ] ->
                    test zoo {
                        let a = (Extract.fromPath ("zoo:" + zoo)).Head
                        let expected = modulesJson reference
                        let actual =
                            [ for m in a.Hierarchy -> { Path = m.Path; Type = m.Type; Depth = m.Depth; Leaf = m.Leaf } ]
                        Expect.sequenceEqual actual expected "path, type, depth and leaf, in PyTorch's order"
                        for x, y in a.Edges do
                            Expect.isLessThan x y "edges go forward"
                        let traced =
                            a.Nodes |> Array.filter (fun n -> n.ModulePath <> "") |> Array.map _.ModulePath |> set
                        let known = expected |> List.map _.Path |> set
                        Expect.isTrue (Set.isSubset traced known) "ops run inside the model's own modules"
                        use doc = readJson (sharedFile $"{corpus}/{reference}.modules.json")
                        Expect.equal
                            a.ParameterCount
                            (doc.RootElement.GetProperty("n_params").GetInt64())
                            "learnable parameters as PyTorch counts them"
                    } ]
          testList
              "cifar10-resnet20 in four formats"
              [ test "the same parameterised layers from .th, .pt, .safetensors, .onnx and the zoo" {
                    let dir = "models/cifar10-resnet20"
                    let th = FromStateDict.read (sharedFile $"{dir}/resnet20-12fca82f.th")
                    let layers = weightedLayers th
                    Expect.equal (layers |> List.filter (fun (t, _) -> t = "Conv2d")).Length 19 "19 convolutions"
                    for file in [ "model.pt"; "model.safetensors" ] do
                        Expect.equal (weightedLayers (FromStateDict.read (sharedFile $"{dir}/{file}"))) layers file
                    Expect.equal
                        (weightedLayers (Extract.fromPath "zoo:cifar-resnet20").Head)
                        layers
                        "the zoo model traced"
                    // ONNX export folds each BatchNorm into the convolution before it: the BatchNorms go, and every
                    // convolution gains a bias.
                    let onnx = FromOnnx.read (sharedFile $"{dir}/model.onnx")
                    Expect.equal
                        (weightedLayers onnx)
                        (layers |> List.filter (fun (t, _) -> t <> "BatchNorm2d"))
                        "onnx, up to folding"
                    for n in onnx.Nodes do
                        if n.LayerType = "Conv2d" then
                            Expect.isTrue
                                (n.Parameters |> List.exists (fun (p, _) -> p = "bias"))
                                $"{n.Name} has the folded bias"
                } ]
          testList
              "checkpoint sources"
              [ testInTempDir
                    "a hub cache: layers inferred from tensor names and shapes, labels from config.json"
                    (fun dir ->
                        let entry = Path.Combine(dir, "models--org--tiny")
                        let snapshot = Path.Combine(entry, "snapshots", "abc123")
                        Directory.CreateDirectory snapshot |> ignore
                        File.WriteAllText(
                            Path.Combine(snapshot, "config.json"),
                            """{"model_type": "bert", "architectures": ["BertForSequenceClassification"], "task": "text-classification"}"""
                        )
                        let f32 name (shape: int64[]) =
                            Hybrid.Core.Nn.Formats.TensorData.Float32(
                                name,
                                shape,
                                Array.zeroCreate (int (Array.fold (*) 1L shape))
                            )
                        SafetensorsWriter.Write(
                            Path.Combine(snapshot, "model.safetensors"),
                            [ f32 "embeddings.word_embeddings.weight" [| 10L; 4L |]
                              f32 "encoder.layer.0.attention.self.query.weight" [| 4L; 4L |]
                              f32 "encoder.layer.0.attention.self.query.bias" [| 4L |]
                              f32 "encoder.layer.0.output.LayerNorm.weight" [| 4L |]
                              f32 "encoder.layer.0.output.LayerNorm.bias" [| 4L |]
                              f32 "classifier.weight" [| 2L; 4L |]
                              f32 "classifier.bias" [| 2L |] ]
                        )
                        for path in [ dir; entry ] do
                            match Extract.fromPath path with
                            | [ a ] ->
                                Expect.equal a.Name "org/tiny" "the repository's name"
                                Expect.equal a.Format "hugging face" "format"
                                Expect.equal
                                    a.LayerSequence
                                    [| "Embedding"; "Linear"; "LayerNorm"; "Linear" |]
                                    "layer types"
                                Expect.equal
                                    a.Nodes[1].Attributes["in_features"]
                                    (Int 4L)
                                    "in_features from the weight"
                                Expect.equal
                                    a.Labels
                                    { ModelType = Some "bert"
                                      Architectures = [ "BertForSequenceClassification" ]
                                      Task = Some "text-classification" }
                                    "labels"
                                Expect.equal a.MaxDepth 5 "module encoder.layer.0.attention.self.query has five dots"
                                Expect.equal a.Edges [| 0, 1; 1, 2; 2, 3 |] "chained in file order"
                            | other -> failtestf "expected one architecture, got %d" other.Length)
                test "ONNX weights stored as absent external data give their shapes" {
                    let a =
                        FromOnnx.read (
                            Path.Combine(repoRoot, "tests", "golden", "onnx_invalid", "external_weights.onnx")
                        )
                    Expect.equal
                        [ for n in a.Nodes -> n.Parameters ]
                        [ [ "norm.weight", [| 4L |] ] ]
                        "the initializer's dims"
                } ]
          testList
              "trace files"
              [ test "every PeaTMOSS line is a chain of its layers with its labels" {
                    let file = sharedFile "data/peatmoss-traces/dev.jsonl"
                    let archs = FromTraces.read file
                    let lines = File.ReadAllLines file |> Array.filter (String.IsNullOrWhiteSpace >> not)
                    Expect.equal archs.Length lines.Length "one architecture per line"
                    for a, line in List.zip archs (List.ofArray lines) do
                        use doc = parseJson line
                        let root = doc.RootElement
                        let tokens =
                            root.GetProperty("layers").GetString().Split(' ', StringSplitOptions.RemoveEmptyEntries)
                            |> Array.filter (fun t -> t <> "input" && t <> "output")
                        Expect.equal a.Name (root.GetProperty("repo_name").GetString()) "name"
                        Expect.equal (a.Nodes |> Array.map _.Original) tokens "the layers, in order"
                        Expect.equal a.Edges.Length (tokens.Length - 1) "a chain"
                        Expect.equal a.Labels.Task (Some(root.GetProperty("task").GetString())) "task"
                        Expect.equal a.Labels.Architectures [ root.GetProperty("arch").GetString() ] "arch"
                } ]
          testList
              "bad input"
              [ testWithTempFile "a corrupt protobuf names the file" "corrupt.onnx" (fun path ->
                    File.WriteAllBytes(path, Array.create 64 0xFFuy)
                    refusesFile "not a valid ONNX protobuf" path (fun () -> Extract.fromPath path |> ignore)
                    let code, out, err = CliTests.runCli [ "inspect"; path; "--graph"; "--json" ]
                    Expect.equal code 1 "exit code"
                    Expect.equal out "" "nothing on stdout"
                    Expect.stringStarts err $"hybrid: error: {path}: not a valid ONNX protobuf" "one error line"
                    Expect.isFalse (err.Contains "   at ") "no stack trace")
                testWithTempFile "a truncated safetensors file names the file" "truncated.safetensors" (fun path ->
                    let bytes = File.ReadAllBytes(sharedFile "models/cifar10-resnet20/model.safetensors")
                    File.WriteAllBytes(path, bytes[..999])
                    let e = throwsOf<InputException>(fun () -> Extract.fromPath path |> ignore)
                    Expect.stringContains e.Message path "names the file")
                testWithTempFile
                    "a broken JSON Lines line is reported with its number; the others still read"
                    "traces.jsonl"
                    (fun path ->
                        let good =
                            File.ReadLines(sharedFile "data/peatmoss-traces/dev.jsonl") |> Seq.take 3 |> Array.ofSeq
                        File.WriteAllLines(
                            path,
                            [| good[0]; good[1]; "{\"repo_name\": \"x\", \"layers\": "; good[2] |]
                        )
                        let results = Extract.results path
                        Expect.equal (results |> List.map Result.isOk) [ true; true; false; true ] "line 3 alone fails"
                        match results[2] with
                        | Error(:? InputException as e) ->
                            Expect.equal e.Subject path "names the file"
                            Expect.stringStarts e.Problem "line 3: not valid JSON" "names the line"
                        | other -> failtestf "expected an InputException, got %A" other
                        throwsOf<exn>(fun () -> Extract.fromPath path |> ignore) |> ignore
                        let code, _, err = CliTests.runCli [ "inspect"; path; "--graph" ]
                        Expect.equal code 1 "exit code"
                        Expect.stringStarts err $"hybrid: error: {path}: line 3:" "one error line")
                test "an ONNX graph with a cycle is an error naming the file and a node on it" {
                    let path = Path.Combine(repoRoot, "tests", "golden", "onnx_invalid", "cycle.onnx")
                    let e = throwsOf<InputException>(fun () -> Extract.fromPath path |> ignore)
                    Expect.equal e.Subject path "names the file"
                    Expect.stringContains e.Problem "cycle" "names the problem"
                    Expect.isTrue
                        (e.Problem.Contains "/first/Add" || e.Problem.Contains "/second/Relu")
                        "names a node on the cycle"
                }
                testInTempDir "a folder with no models names the folder" (fun dir ->
                    File.WriteAllText(Path.Combine(dir, "notes.txt"), "no model here")
                    let e = throwsOf<InputException>(fun () -> Extract.fromPath dir |> ignore)
                    Expect.stringContains e.Message dir "names the folder"
                    Expect.stringContains e.Message "no weights" "names the problem"
                    let code, _, err = CliTests.runCli [ "inspect"; dir; "--graph" ]
                    Expect.equal code 1 "exit code"
                    Expect.stringStarts err $"hybrid: error: {dir}" "one error line")
                testWithTempFile "a file of no known kind names the file" "model.txt" (fun path ->
                    File.WriteAllText(path, "hello")
                    let e = throwsOf<InputException>(fun () -> Extract.fromPath path |> ignore)
                    Expect.equal e.Subject path "names the file"
                    Expect.stringContains e.Problem "'.txt'" "names the kind") ] ]
