/// Structure reports: metrics against figures computed here from the reference files, the CSV columns and quoting,
/// the chart files, the report folder (written whole or not at all) and `hybrid analyze`.
module Hybrid.Tests.ReportTests

open System
open System.IO
open Expecto
open Hybrid.Analysis
open Hybrid.Analysis.Architecture
open Hybrid.Analysis.Structure

let private architectures = "data/torchvision-architectures"

let private onnx (name: string) = sharedFile $"{architectures}/{name}.onnx"

/// `NAME.modules.json`: PyTorch's named_modules view (path, type, params) and the total parameter count.
let private modulesJson (name: string) =
    use doc = readJson (sharedFile $"{architectures}/{name}.modules.json")
    let modules =
        [ for m in doc.RootElement.GetProperty("modules").EnumerateArray() ->
              let shapes =
                  [ for p in m.GetProperty("params").EnumerateObject() ->
                        [ for d in p.Value.EnumerateArray() -> d.GetInt64() ] ]
              m.GetProperty("path").GetString(), m.GetProperty("type").GetString(), shapes ]
    modules, doc.RootElement.GetProperty("n_params").GetInt64()

/// RFC 4180 records, parsed here independently of the writer: quoted fields may hold commas, quotes (doubled) and
/// line breaks; records end with CRLF.
let private parseCsv (text: string) =
    let records = ResizeArray<string list>()
    let field = Text.StringBuilder()
    let mutable record = []
    let mutable i = 0
    let mutable quoted = false
    while i < text.Length do
        let c = text[i]
        if quoted then
            if c = '"' && i + 1 < text.Length && text[i + 1] = '"' then
                field.Append '"' |> ignore
                i <- i + 1
            elif c = '"' then
                quoted <- false
            else
                field.Append c |> ignore
        elif c = '"' then
            quoted <- true
        elif c = ',' then
            record <- field.ToString() :: record
            field.Clear() |> ignore
        elif c = '\r' && i + 1 < text.Length && text[i + 1] = '\n' then
            records.Add(List.rev (field.ToString() :: record))
            record <- []
            field.Clear() |> ignore
            i <- i + 1
        else
            field.Append c |> ignore
        i <- i + 1
    if field.Length > 0 || not record.IsEmpty then
        failtest "the CSV does not end with CRLF"
    List.ofSeq records

let private node id name layerType path parameters output =
    { Id = id
      Name = name
      LayerType = layerType
      Original = layerType
      Attributes = Map.empty
      Parameters = parameters
      OutputShape = output
      ModulePath = path }

/// A hand-built model whose figures are known by construction; names and task hold commas and quotes for the CSV.
let private synthetic =
    let nodes =
        [| node
               0
               "stem, \"first\""
               "Conv2d"
               "stem"
               [ "weight", [| 8L; 3L; 3L; 3L |]; "bias", [| 8L |] ]
               (Some [| 1L; 8L; 16L; 16L |])
           node 1 "encoder.layer.0.attn" "Linear" "encoder.layer.0.attn" [ "weight", [| 8L; 8L |] ] (Some [| 1L; 8L |])
           node 2 "encoder.layer.1.attn" "Linear" "encoder.layer.1.attn" [ "weight", [| 8L; 8L |] ] None
           node 3 "EncoderBlock.act" "ReLU" "head.EncoderBlock.act" [] None
           node 4 "sum" "Add" "" [] (Some [| 1L; 8L |]) |]
    let arch =
        { Name = "toy"
          Format = "test"
          Labels = Labels.empty
          Nodes = nodes
          Edges = [| 0, 1; 1, 2; 2, 3; 0, 4; 1, 4 |]
          Hierarchy = []
          Pruned = []
          OriginalOps = Map.empty }
    { Id = "toy \"1\", v2"; BaseName = "toy"; Task = "tasks, with commas"; Architecture = arch }

let private tracesPath = "data/peatmoss-traces/dev.jsonl"

[<Tests>]
let tests =
    testList
        "report"
        [ test "resnet18 metrics equal the figures of its ONNX file and modules.json" {
              let model = (ReportInputs.fromPaths (Some "image-classification") [ (onnx "resnet18") ]).Head
              let m = metrics model
              let file = Hybrid.Core.Nn.Formats.Onnx.Reader.OnnxModel.Load(onnx "resnet18")
              // Every node is a layer but the exporter's Identity copies of shared parameters, which extraction folds away.
              let copies = Collections.Generic.HashSet<string>(ArchitectureTests.parameterCopies file |> Seq.map _.Name)
              let layers = file.Nodes |> Seq.filter (fun n -> not (copies.Contains n.Name)) |> List.ofSeq
              Expect.equal m.Layers layers.Length "one layer per ONNX node that is not a parameter copy"
              Expect.equal
                  m.UniqueLayerTypes
                  (layers |> Seq.map _.OpType |> Seq.distinct |> Seq.length)
                  "distinct op types"
              // Nesting level from the raw node name: "/layer1/layer1.0/conv1/Conv" has 4 slashes and level 2; ops of the
              // root module ("/Flatten", "Identity_0") lie in no named module and have no level.
              let slashes (name: string) = name |> Seq.filter ((=) '/') |> Seq.length
              let levels =
                  [ for n in file.Nodes do
                        if slashes n.Name >= 2 then
                            float (slashes n.Name - 2) ]
              Expect.floatClose Accuracy.veryHigh m.MeanNesting (List.average levels) "mean nesting"
              let sorted = List.sort levels
              Expect.equal
                  m.MedianNesting
                  ((sorted[(sorted.Length - 1) / 2] + sorted[sorted.Length / 2]) / 2.0)
                  "median nesting"
              Expect.equal m.Blocks 4 "layer1..layer4"
              // The exporter folds each BatchNorm into the convolution before it: 2C parameters become a C-element bias.
              let modules, total = modulesJson "resnet18"
              let bnChannels =
                  modules
                  |> List.sumBy (fun (_, t, shapes) -> if t = "BatchNorm2d" then List.head (List.head shapes) else 0L)
              Expect.equal m.Parameters (total - bnChannels) "parameters: PyTorch's count minus the folded BatchNorms"
          }
          testList
              "block counts from ONNX scopes equal those from PyTorch's module paths"
              [ for name in [ "resnet50"; "densenet121"; "efficientnet_b0"; "vit_b_16"; "convnext_tiny"; "alexnet" ] ->
                    test name {
                        let modules, _ = modulesJson name
                        let expected =
                            modules |> List.collect (fun (p, _, _) -> blockPrefixes p) |> List.distinct |> List.length
                        Expect.equal
                            (metrics ((ReportInputs.fromPaths (Some "x") [ (onnx name) ]).Head)).Blocks
                            expected
                            "blocks"
                    } ]
          testList
              "parameters of models without folded BatchNorm equal PyTorch's count"
              [ for name in [ "alexnet"; "vgg11"; "squeezenet1_1"; "convnext_tiny" ] ->
                    test name {
                        let _, total = modulesJson name
                        Expect.equal
                            (metrics ((ReportInputs.fromPaths (Some "x") [ (onnx name) ]).Head)).Parameters
                            total
                            "parameters"
                    } ]
          test "trace lines give one chain per model with the line's task" {
              let models = ReportInputs.fromPaths None [ sharedFile tracesPath ]
              let lines = File.ReadAllLines(sharedFile tracesPath) |> Array.filter (String.IsNullOrWhiteSpace >> not)
              Expect.equal models.Length lines.Length "one model per line"
              for model, line in Seq.zip models lines do
                  use doc = parseJson line
                  let tokens =
                      doc.RootElement
                          .GetProperty("layers")
                          .GetString()
                          .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                  let m = metrics model
                  Expect.equal m.Id (doc.RootElement.GetProperty("repo_name").GetString()) "id"
                  Expect.equal m.Task (doc.RootElement.GetProperty("task").GetString()) "task"
                  // The extractor drops the trace's "input" and "output" markers and maps tokens onto the one vocabulary.
                  let layers = tokens |> Array.filter (fun t -> t <> "input" && t <> "output")
                  Expect.equal m.Layers layers.Length $"{m.Id}: layers"
                  Expect.equal
                      m.UniqueLayerTypes
                      (layers |> Array.map (fun t -> LayerTypes.normalise t None) |> Array.distinct |> Array.length)
                      $"{m.Id}: unique types"
                  Expect.equal model.Architecture.Edges.Length (layers.Length - 1) $"{m.Id}: a chain"
          }
          testWithTempFile "a broken trace line names the file and the line" "broken.jsonl" (fun path ->
              let good = File.ReadLines(sharedFile tracesPath) |> Seq.head
              File.WriteAllLines(path, [ good; good.Substring(0, good.Length / 2) ])
              let e = throwsOf<InputException>(fun () -> ReportInputs.fromPaths None [ path ] |> ignore)
              Expect.stringContains e.Message path "names the file"
              Expect.stringContains e.Message "line 2: not valid JSON" "names the line")
          test "the synthetic model's metrics and layer rows" {
              let m = metrics synthetic
              Expect.equal
                  (m.Layers, m.UniqueLayerTypes, m.Parameters)
                  (5, 4, 216L + 8L + 64L + 64L)
                  "layers, types, parameters"
              // encoder, encoder.layer and head.EncoderBlock (case-insensitive); "0", "attn", "stem" are no blocks.
              Expect.equal m.Blocks 3 "blocks"
              Expect.floatClose
                  Accuracy.veryHigh
                  m.MeanNesting
                  ((0.0 + 3.0 + 3.0 + 2.0) / 4.0)
                  "mean nesting over nodes with a path"
              Expect.equal m.MedianNesting 2.5 "median nesting"
              let rows = layerRows synthetic
              Expect.equal
                  (rows |> List.map _.Block)
                  [ ""; "encoder.layer"; "encoder.layer"; "head.EncoderBlock"; "" ]
                  "innermost blocks"
              Expect.equal
                  (rows |> List.map _.InputShape)
                  [ ""; "[1, 8, 16, 16]"; "[1, 8]"; ""; "[1, 8, 16, 16]; [1, 8]" ]
                  "input shapes"
              Expect.equal rows[0].OutputShape "[1, 8, 16, 16]" "output shape"
          }
          test "csv fields follow RFC 4180" {
              Expect.equal (Report.csvField "plain") "plain" "plain"
              Expect.equal (Report.csvField "a,b") "\"a,b\"" "comma"
              Expect.equal (Report.csvField "say \"hi\"") "\"say \"\"hi\"\"\"" "quotes doubled"
              Expect.equal (Report.csvField "two\nlines") "\"two\nlines\"" "line break"
          }
          testInTempDir
              "the report folder: CSV columns and round trip, chart JSON, markdown, one inlined plotly.js"
              (fun dir ->
                  let models =
                      synthetic
                      :: ReportInputs.fromPaths (Some "image-classification") [ onnx "resnet18"; onnx "vit_b_16" ]
                  let out = Path.Combine(dir, "report")
                  let index = Report.write out models
                  Expect.equal index (Path.Combine(out, "index.html")) "the index path"
                  Expect.sequenceEqual
                      (Directory.GetFileSystemEntries dir)
                      [| out |]
                      "no staging folder is left beside it"
                  let names = Directory.GetFileSystemEntries out |> Array.map Path.GetFileName |> Array.sort
                  Expect.sequenceEqual
                      names
                      [| "charts"; "index.html"; "layers.csv"; "metrics.csv"; "report.md" |]
                      "files"
                  let layers = parseCsv (File.ReadAllText(Path.Combine(out, "layers.csv")))
                  Expect.equal layers.Head Report.layerColumns "layer columns, in order"
                  let expected = models |> List.collect layerRows
                  Expect.equal layers.Tail.Length expected.Length "one row per layer"
                  let first = layers.Tail.Head
                  Expect.equal
                      first
                      [ "stem, \"first\""
                        "Conv2d"
                        ""
                        "[1, 8, 16, 16]"
                        ""
                        "224"
                        synthetic.Id
                        "toy"
                        synthetic.Task ]
                      "quoted fields round trip"
                  let metricsCsv = parseCsv (File.ReadAllText(Path.Combine(out, "metrics.csv")))
                  Expect.equal metricsCsv.Head Report.metricColumns "metric columns"
                  Expect.equal (metricsCsv.Tail |> List.map List.head) (models |> List.map _.Id) "one row per model"
                  let charts = Directory.GetFiles(Path.Combine(out, "charts"), "*.json")
                  // Scopes: overall, image-classification, the synthetic task.
                  Expect.equal charts.Length (6 * 3) "six charts per scope"
                  for c in charts do
                      use doc = readJson c
                      let data = doc.RootElement.GetProperty("data")
                      Expect.isGreaterThan (data.GetArrayLength()) 0 $"{c}: traces"
                      for trace in data.EnumerateArray() do
                          let values =
                              [ "x"; "y"; "z" ]
                              |> List.sumBy (fun k ->
                                  match trace.TryGetProperty k with
                                  | true, v -> v.GetArrayLength()
                                  | _ -> 0)
                          Expect.isGreaterThan values 0 $"{c}: the trace holds data"
                  let html = File.ReadAllText index
                  let occurrences (s: string) = (html.Length - html.Replace(s, "").Length) / s.Length
                  Expect.equal (occurrences "* plotly.js v") 1 "plotly.js inlined once"
                  Expect.isFalse (html.Contains "<script src") "no external script"
                  Expect.equal (occurrences "<section class=\"chart\"") charts.Length "one chart section per figure"
                  let md = File.ReadAllText(Path.Combine(out, "report.md"))
                  for c in charts do
                      Expect.stringContains md $"(charts/{Path.GetFileName c})" "report.md links every figure"
                  Expect.stringContains md "resnet18" "the metrics table")
          testInTempDir
              "a report replaces an earlier one, refuses other folders and leaves both alone when it fails"
              (fun dir ->
                  let out = Path.Combine(dir, "report")
                  Report.write out [ synthetic ] |> ignore
                  let before = File.ReadAllText(Path.Combine(out, "metrics.csv"))
                  rejects "appears 2 times" (fun () -> Report.write out [ synthetic; synthetic ])
                  Expect.equal
                      (File.ReadAllText(Path.Combine(out, "metrics.csv")))
                      before
                      "the earlier report is intact"
                  let resnet = (ReportInputs.fromPaths (Some "image-classification") [ (onnx "resnet18") ]).Head
                  Report.write out [ resnet ] |> ignore
                  Expect.stringContains (File.ReadAllText(Path.Combine(out, "metrics.csv"))) "resnet18" "replaced"
                  Expect.sequenceEqual (Directory.GetFileSystemEntries dir) [| out |] "nothing else beside it"
                  let other = Path.Combine(dir, "notes")
                  Directory.CreateDirectory other |> ignore
                  File.WriteAllText(Path.Combine(other, "keep.txt"), "mine")
                  let e = throwsOf<InputException>(fun () -> Report.write other [ resnet ] |> ignore)
                  Expect.stringContains e.Message "is not a structure report" "the message names the problem"
                  Expect.equal (File.ReadAllText(Path.Combine(other, "keep.txt"))) "mine" "untouched"
                  rejects "no models" (fun () -> Report.write (Path.Combine(dir, "empty")) []))
          testInTempDir "hybrid analyze --from writes the report; bad input is one error line" (fun dir ->
              let out = Path.Combine(dir, "out")
              let code, stdout, err =
                  CliTests.runCli
                      [ "analyze"; "--out"; out; "--from"; onnx "resnet18"; sharedFile tracesPath; "--json" ]
              Expect.equal code 0 $"exit code (stderr: {err})"
              use doc = parseJson stdout
              Expect.equal
                  (doc.RootElement.GetProperty("models").GetInt32())
                  (1
                   + (File.ReadAllLines(sharedFile tracesPath) |> Array.filter (String.IsNullOrWhiteSpace >> not))
                       .Length)
                  "models"
              Expect.isTrue (File.Exists(doc.RootElement.GetProperty("index").GetString())) "index.html exists"
              let broken = Path.Combine(dir, "broken.jsonl")
              File.WriteAllText(broken, "{\"repo_name\": \"a\", \"layers\": \"input conv2d\"}\n{not json\n")
              let code, _, err = CliTests.runCli [ "analyze"; "--out"; Path.Combine(dir, "b"); "--from"; broken ]
              Expect.equal code 1 "exit code"
              Expect.stringStarts err $"hybrid: error: {broken}: line 2: not valid JSON" "names the file and line"
              Expect.isFalse (err.Contains "   at ") "no stack trace"
              Expect.isFalse (Directory.Exists(Path.Combine(dir, "b"))) "no report"
              let empty = Directory.CreateDirectory(Path.Combine(dir, "nothing")).FullName
              let code, _, err = CliTests.runCli [ "analyze"; "--out"; Path.Combine(dir, "c"); "--from"; empty ]
              Expect.equal code 1 "empty folder: exit code"
              Expect.stringStarts err $"hybrid: error: {empty}: no weights in this folder" "empty folder: names it"
              Expect.equal (err.Trim().Split('\n').Length) 1 "empty folder: one line"
              let missing = Path.Combine(dir, "missing.db")
              let code, _, err = CliTests.runCli [ "analyze"; "--out"; Path.Combine(dir, "d"); "--db"; missing ]
              Expect.equal code 1 "no catalog"
              Expect.stringContains err $"{missing}: no catalog here: run hybrid extract first" "says what to do") ]
