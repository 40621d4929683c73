/// End-to-end tests of the `hybrid` command: exit codes, one-line errors, JSON output.
module Hybrid.Tests.CliTests

open System.IO
open Expecto

/// The CLI built beside the tests (same configuration: the test project references it).
let cliDll =
    // The test program runs from tests/bin/CONFIGURATION/net10.0/.
    let configuration = DirectoryInfo(Path.TrimEndingDirectorySeparator System.AppContext.BaseDirectory).Parent.Name
    Path.Combine(repoRoot, "Cli", "bin", configuration, "net10.0", "hybrid.dll")

/// Every command path of the CLI, from its Argu types: [] (hybrid itself), then each subcommand (a union case carrying
/// ParseResults<T>) with its own subcommands, named as Argu names them (lower case, '_' as '-').
let rec private commandPaths (args: System.Type) (prefix: string list) =
    [ yield prefix
      for case in Microsoft.FSharp.Reflection.FSharpType.GetUnionCases args do
          match case.GetFields() with
          | [| field |] when
              field.PropertyType.IsGenericType
              && field.PropertyType.GetGenericTypeDefinition() = typedefof<Argu.ParseResults<_>>
              ->
              let name = case.Name.ToLowerInvariant().Replace('_', '-')
              yield! commandPaths (field.PropertyType.GetGenericArguments()[0]) (prefix @ [ name ])
          | _ -> () ]

/// Runs hybrid with arguments in the test program's folder; returns exit code, stdout, stderr. Bounded in time so a hang
/// fails the test.
let runCli (args: string list) = runProcess "dotnet" System.Environment.CurrentDirectory 120 (cliDll :: args)

/// `runCli` with extra environment variables (such as DOTNET_PROCESSOR_COUNT) and a time limit in seconds.
let runCliWith (environment: (string * string) list) (seconds: int) (args: string list) =
    runProcessWith environment "dotnet" System.Environment.CurrentDirectory seconds (cliDll :: args)

let private gmmFixture = sharedPath "fixtures/kernels/gmm.safetensors"

/// `hybrid gmm fit` on the mixture fixture's points with k components of one covariance type, then the other flags.
let private gmmFit (k: int) (covariance: string) (flags: string list) =
    [ "gmm"; "fit"; "--data"; gmmFixture + ":data"; "--k"; string k; "--covariance"; covariance ] @ flags

[<Tests>]
let tests =
    testList
        "cli"
        [ test "--help lists every command" {
              let code, out, _ = runCli [ "--help" ]
              Expect.equal code 0 "exit code"
              for command in [ "demo"; "selfcheck"; "inspect"; "gmm"; "cka"; "bench"; "serve"; "analyze-model" ] do
                  Expect.stringContains out command "help names the command"
          }
          test "--help of every command and subcommand prints its usage and exits 0" {
              let paths = commandPaths typeof<Hybrid.Cli.Args.HybridArgs> []
              // hybrid, its 18 commands, gmm fit, cka score, index, search and compare, anomaly train and check, queue
              // status, and the 10 benchmarks.
              Expect.equal paths.Length 37 $"command paths found: {paths}"
              for path in paths do
                  let code, out, err = runCli (path @ [ "--help" ])
                  let name = String.concat " " ("hybrid" :: path)
                  Expect.equal code 0 $"{name} --help: exit code (stderr: {err})"
                  Expect.stringContains out $"USAGE: {name} [--help]" $"{name} --help: its usage line"
                  for sub in
                      paths |> List.filter (fun p -> p.Length = path.Length + 1 && List.take path.Length p = path) do
                      Expect.stringContains out (List.last sub) $"{name} --help names {List.last sub}"
                  Expect.equal err "" $"{name} --help: nothing on stderr"
          }
          test "an unknown flag is an error with usage, exit code 2" {
              let code, _, err = runCli [ "bench"; "--frobnicate" ]
              Expect.equal code 2 "exit code"
              Expect.stringContains err "unrecognized argument: '--frobnicate'" "names the flag"
              Expect.isFalse (err.Contains "   at ") "no stack trace"
          }
          test "a bad value is one error line, exit code 1" {
              let code, out, err = runCli [ "bench"; "gemm"; "--sizes"; "0" ]
              Expect.equal code 1 "exit code"
              Expect.equal
                  (err.Trim())
                  "hybrid: error: bench gemm: size 0 is outside 1..16384"
                  "one line naming the problem"
              Expect.equal out "" "nothing on stdout"
          }
          test "bench reengineer refuses a --reengineered folder without its model before timing anything" {
              let missing = Path.Combine(Path.GetTempPath(), $"hybrid-no-such-{System.Guid.NewGuid():N}")
              let code, out, err = runCli [ "bench"; "reengineer"; "--reengineered"; missing ]
              Expect.equal code 1 "exit code"
              // One line and nothing else: no progress line of the training timing came first.
              let model = Path.Combine(missing, "model.safetensors")
              Expect.equal (err.Trim()) $"hybrid: error: {model}: file not found" "one line naming the missing file"
              Expect.equal out "" "nothing on stdout"
          }
          test "selfcheck --json on the reference and ILGPU backends" {
              let code, out, err =
                  runCli [ "selfcheck"; "--device"; "reference"; "gpu"; "--count"; "1"; "--seed"; "5"; "--json" ]
              Expect.equal code 0 (sprintf "exit code (stderr: %s)" err)
              use doc = parseJson out
              let checks = doc.RootElement.GetProperty("checks").EnumerateArray() |> Seq.toList
              Expect.equal checks.Length 6 "3 operations x 2 devices"
              for c in checks do
                  Expect.isTrue (c.GetProperty("passed").GetBoolean()) (c.GetRawText())
          }
          test "gmm fit --json from scikit-learn's start reproduces its fit (every covariance type)" {
              use expected = readJson (sharedPath "fixtures/kernels/gmm.json")
              for t in [ "full"; "tied"; "diag"; "spherical" ] do
                  let code, out, err =
                      runCli (
                          gmmFit
                              6
                              t
                              [ "--device"
                                "cpu"
                                "--weights-init"
                                gmmFixture + ":weights_init"
                                "--means-init"
                                gmmFixture + ":means_init"
                                "--precisions-init"
                                $"{gmmFixture}:{t}.precisions_init"
                                "--tol"
                                "0.001"
                                "--max-iter"
                                "200"
                                "--json" ]
                      )
                  Expect.equal code 0 (sprintf "%s: exit code (stderr: %s)" t err)
                  use doc = parseJson out
                  let ours (name: string) = doc.RootElement.GetProperty(name)
                  let theirs = expected.RootElement.GetProperty("results").GetProperty(t)
                  Expect.equal (ours("n_iter").GetInt32()) (theirs.GetProperty("n_iter").GetInt32()) $"{t}: n_iter"
                  Expect.isTrue (ours("converged").GetBoolean()) $"{t}: converged"
                  // The CLI prints doubles round-trip; 1e-9 relative leaves room only for summation order.
                  for name in [ "lower_bound"; "bic"; "aic" ] do
                      let a, e = ours(name).GetDouble(), theirs.GetProperty(name).GetDouble()
                      Expect.isLessThanOrEqual (abs (a - e)) (1e-9 * abs e) $"{t}: {name} {a} vs {e}"
          }
          testWithTempFile
              "gmm fit --out writes the model with scikit-learn's names and shapes"
              "model.safetensors"
              (fun out ->
                  let code, _, err = runCli (gmmFit 3 "tied" [ "--seed"; "7"; "--out"; out; "--device"; "cpu" ])
                  Expect.equal code 0 (sprintf "exit code (stderr: %s)" err)
                  use file = SafetensorsFile.Open out
                  Expect.sequenceEqual (file.Entry("means").Shape) [| 3L; 10L |] "means"
                  Expect.sequenceEqual (file.Entry("covariances").Shape) [| 10L; 10L |] "tied covariance"
                  Expect.equal file.Metadata["seed"] "7" "the seed is recorded"
                  Expect.floatClose Accuracy.veryHigh (Array.sum (file.ReadFloat64 "weights")) 1.0 "weights sum to 1")
          testInTempDir
              "gmm fit on 1, 2 and 5 cores writes the same model to the bit (partial sums in a fixed order)"
              (fun dir ->
                  // 3,000 rows: twelve blocks of the Cpu passes, so that the cores really split the work.
                  let rng = System.Random 16
                  let csv = Path.Combine(dir, "points.csv")
                  File.WriteAllLines(
                      csv,
                      Array.init 3000 (fun i ->
                          Array.init 12 (fun a -> string (float ((i % 4) * (a % 3)) + rng.NextDouble()))
                          |> String.concat ",")
                  )
                  for t in [ "full"; "tied"; "diag"; "spherical" ] do
                      let fit (cores: int) =
                          let out = Path.Combine(dir, $"{t}-{cores}.safetensors")
                          let code, _, err =
                              runCliWith
                                  [ "DOTNET_PROCESSOR_COUNT", string cores ]
                                  120
                                  [ "gmm"
                                    "fit"
                                    "--data"
                                    csv
                                    "--k"
                                    "4"
                                    "--covariance"
                                    t
                                    "--seed"
                                    "3"
                                    "--tol"
                                    "0"
                                    "--max-iter"
                                    "15"
                                    "--device"
                                    "cpu"
                                    "--out"
                                    out ]
                          Expect.equal code 0 $"{t} on {cores} cores: exit code (stderr: {err})"
                          use file = SafetensorsFile.Open out
                          [ for name in [ "weights"; "means"; "covariances"; "precisions_cholesky" ] ->
                                name, file.ReadFloat64 name |> Array.map System.BitConverter.DoubleToInt64Bits ]
                      let one = fit 1
                      for cores in [ 2; 5 ] do
                          Expect.sequenceEqual (fit cores) one $"{t}: {cores} cores against 1")
          test "cka score --json gives the fixture's linear, RBF and debiased values" {
              let cka = sharedPath "fixtures/kernels/cka.safetensors"
              use expected = readJson (sharedPath "fixtures/kernels/cka.json")
              for extra, key in
                  [ [], "linear_cka_xy"
                    [ "--kernel"; "rbf"; "--sigma-frac"; "0.8" ], "rbf_cka_xy"
                    [ "--debiased" ], "debiased_linear_cka_xy" ] do
                  let code, out, err =
                      runCli (
                          [ "cka"; "score"; "--x"; cka + ":X"; "--y"; cka + ":Y"; "--device"; "cpu"; "--json" ] @ extra
                      )
                  Expect.equal code 0 (sprintf "%s: exit code (stderr: %s)" key err)
                  use doc = parseJson out
                  let a, e =
                      doc.RootElement.GetProperty("cka").GetDouble(), expected.RootElement.GetProperty(key).GetDouble()
                  // float32 activations summed in float64: agreement to 1e-9 relative.
                  Expect.isLessThanOrEqual (abs (a - e)) (1e-9 * abs e) $"{key}: {a} vs {e}"
          }
          testInTempDir "bad inputs to gmm and cka are one error line naming the problem, exit code 1" (fun dir ->
              let csv name (text: string) =
                  let path = Path.Combine(dir, name)
                  File.WriteAllText(path, text)
                  path
              let nan = csv "nan.csv" "1,2\n3,nan\n5,6\n"
              let few = csv "few.csv" "1,2\n1,2\n3,4\n"
              let cka = sharedPath "fixtures/kernels/cka.safetensors"
              let cases =
                  [ [ "gmm"; "fit"; "--data"; Path.Combine(dir, "absent.csv"); "--k"; "2" ], "absent.csv"
                    [ "gmm"; "fit"; "--data"; cka + ":W"; "--k"; "2" ], "no tensor 'W'"
                    [ "gmm"; "fit"; "--data"; nan; "--k"; "2" ], "row 1, column 1"
                    [ "gmm"; "fit"; "--data"; few; "--k"; "3" ], "distinct"
                    [ "gmm"; "fit"; "--data"; few; "--k"; "2"; "--init"; "bogus" ], "unknown init 'bogus'"
                    [ "cka"; "score"; "--x"; cka + ":X"; "--y"; few ], "rows"
                    [ "cka"; "score"; "--x"; few; "--y"; few; "--debiased" ], "4" ]
              for args, fragment in cases do
                  let code, out, err = runCli args
                  let line = err.Trim()
                  Expect.equal code 1 (sprintf "%A: exit code (stderr: %s)" args err)
                  Expect.isFalse (line.Contains '\n') (sprintf "%A: one line: %s" args line)
                  Expect.stringContains line "hybrid: error: " (sprintf "%A" args)
                  Expect.stringContains line fragment (sprintf "%A: names the problem" args)
                  Expect.equal out "" (sprintf "%A: nothing on stdout" args))
          test "inspect --json counts a real checkpoint's tensors and parameters from its header" {
              let path = sharedPath "models/cifar10-resnet20/model.safetensors"
              let code, out, err = runCli [ "inspect"; path; "--json" ]
              Expect.equal code 0 (sprintf "exit code (stderr: %s)" err)
              use doc = parseJson out
              use file = SafetensorsFile.Open path
              let isBuffer (name: string) =
                  [ "running_mean"; "running_var"; "num_batches_tracked" ] |> List.exists name.EndsWith
              let parameters = file.Tensors |> Seq.filter (fun t -> not (isBuffer t.Name)) |> Seq.sumBy _.ElementCount
              Expect.equal
                  (doc.RootElement.GetProperty("tensors").GetArrayLength())
                  file.Tensors.Count
                  "every tensor listed"
              Expect.equal
                  (doc.RootElement.GetProperty("parameters").GetInt64())
                  parameters
                  "parameters exclude the BatchNorm buffers"
              let layer1 =
                  doc.RootElement.GetProperty("modules").EnumerateArray()
                  |> Seq.find (fun m -> m.GetProperty("path").GetString() = "layer1")
              let layer1Parameters =
                  file.Tensors
                  |> Seq.filter (fun t -> t.Name.StartsWith "layer1." && not (isBuffer t.Name))
                  |> Seq.sumBy _.ElementCount
              Expect.equal
                  (layer1.GetProperty("parameters").GetInt64())
                  layer1Parameters
                  "a module's parameters are its tensors'"
          }
          testInTempDir "inspect reads a sharded Hugging Face folder in the hub cache layout" (fun dir ->
              let snapshot = Path.Combine(dir, "models--org--tiny", "snapshots", "abc123")
              Directory.CreateDirectory snapshot |> ignore
              Directory.CreateDirectory(Path.Combine(dir, "models--org--tiny", "refs")) |> ignore
              File.WriteAllText(Path.Combine(dir, "models--org--tiny", "refs", "main"), "abc123")
              File.WriteAllText(
                  Path.Combine(snapshot, "config.json"),
                  """{"model_type": "bert", "architectures": ["BertModel"]}"""
              )
              let write name (tensors: Hybrid.Core.Nn.Formats.TensorData list) =
                  Hybrid.Core.Nn.Formats.Safetensors.SafetensorsWriter.Write(Path.Combine(snapshot, name), tensors)
              write
                  "model-00001-of-00002.safetensors"
                  [ Hybrid.Core.Nn.Formats.TensorData.Float32(
                        "encoder.layer.0.weight",
                        [| 4L; 3L |],
                        Array.zeroCreate 12
                    ) ]
              write
                  "model-00002-of-00002.safetensors"
                  [ Hybrid.Core.Nn.Formats.TensorData.Float32("pooler.dense.bias", [| 5L |], Array.zeroCreate 5) ]
              File.WriteAllText(
                  Path.Combine(snapshot, "model.safetensors.index.json"),
                  """{"weight_map": {"encoder.layer.0.weight": "model-00001-of-00002.safetensors", "pooler.dense.bias": "model-00002-of-00002.safetensors"}}"""
              )
              let code, out, err = runCli [ "inspect"; Path.Combine(dir, "models--org--tiny"); "--json" ]
              Expect.equal code 0 (sprintf "exit code (stderr: %s)" err)
              use doc = parseJson out
              Expect.equal (doc.RootElement.GetProperty("model_type").GetString()) "bert" "model_type from config.json"
              Expect.equal (doc.RootElement.GetProperty("files").GetArrayLength()) 2 "both shards"
              Expect.equal (doc.RootElement.GetProperty("parameters").GetInt64()) 17L "12 + 5 elements")
          testInTempDir "inspect of a missing or truncated file is one error line" (fun dir ->
              let truncated = Path.Combine(dir, "cut.safetensors")
              File.WriteAllBytes(
                  truncated,
                  (File.ReadAllBytes(sharedPath "models/cifar10-resnet20/model.safetensors")).[..100]
              )
              for path in [ Path.Combine(dir, "absent.safetensors"); truncated ] do
                  let code, out, err = runCli [ "inspect"; path ]
                  Expect.equal code 1 (sprintf "%s: exit code" path)
                  Expect.equal out "" "nothing on stdout"
                  Expect.stringContains (err.Trim()) ("hybrid: error: " + path) "one line naming the file"
                  Expect.isFalse (err.Trim().Contains '\n') "one line")
          test "inspect of ONNX files: initializers, or the parameter inputs of a graph exported without weights" {
              for relative in [ "models/cifar10-resnet20/model.onnx"; "data/torchvision-architectures/resnet18.onnx" ] do
                  let path = sharedPath relative
                  let code, out, err = runCli [ "inspect"; path; "--json" ]
                  Expect.equal code 0 (sprintf "%s: exit code (stderr: %s)" relative err)
                  use doc = parseJson out
                  let model = Hybrid.Core.Nn.Formats.Onnx.Reader.OnnxModel.Load path
                  let expected =
                      if model.Initializers.Count > 0 then
                          model.Initializers.Values |> Seq.sumBy _.ElementCount
                      else
                          model.Inputs
                          |> Seq.skip 1
                          |> Seq.sumBy (fun i -> i.Shape |> Seq.fold (fun acc d -> acc * d.Value.Value) 1L)
                  Expect.equal (doc.RootElement.GetProperty("parameters").GetInt64()) expected $"{relative}: parameters"
                  let convs = model.Nodes |> Seq.filter (fun n -> n.OpType = "Conv") |> Seq.length
                  Expect.equal
                      (doc.RootElement.GetProperty("operators").GetProperty("Conv").GetInt32())
                      convs
                      $"{relative}: Conv count"
          }
          test "inspect refuses hostile checkpoints in one line naming the global, and runs nothing" {
              for file in [ "os_system.pt"; "os_system_legacy.pt" ] do
                  let code, out, err = runCli [ "inspect"; sharedPath ("fixtures/hostile/" + file) ]
                  Expect.equal code 1 $"{file}: exit code"
                  Expect.equal out "" $"{file}: nothing on stdout"
                  Expect.stringContains err "posix.system" $"{file}: names the global"
                  Expect.isFalse (err.Trim().Contains '\n') $"{file}: one line"
                  Expect.isFalse (File.Exists "/tmp/hybrid-pwned") $"{file}: nothing ran"
          } ]
