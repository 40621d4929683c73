/// The CKA layer index and search over the real CIFAR-10 ResNets of ../shared/models: encodings stored in the catalog
/// give PyTorch's activations' linear CKA (resnet20_reference.safetensors) within 1e-5, a layer finds itself at score
/// 1, search agrees with a brute-force scan of every stored encoding, block by block or whole, and with filters;
/// re-indexing replaces a model's rows in one transaction; `hybrid cka index | search` end to end.
module Hybrid.Tests.CkaIndexTests

open System
open System.IO
open Expecto
open Hybrid.Analysis

/// The CIFAR-10 test set as a dataset SPEC, and the normalisation the ResNets were trained with.
let cifar = lazy ("cifar10:" + sharedFile "data/cifar10/test_batch.bin")
let mean = [| 0.485f; 0.456f; 0.406f |]
let std = [| 0.229f; 0.224f; 0.225f |]
let private resnet (depth: int) = sharedFile $"models/cifar10-resnet{depth}/model.safetensors"
let private referenceLayers = [ "conv1"; "layer1"; "layer2"; "layer3" ]

/// Both ResNets indexed once per catalog store (every module) on the first 100 test images, in a catalog whose folder
/// is removed when the tests exit.
let private indexedOn =
    let runs = Collections.Concurrent.ConcurrentDictionary<string, Lazy<string * LayerIndex.IndexResult>>()
    fun (store: CatalogStore) ->
        runs
            .GetOrAdd(
                store.Name,
                fun _ ->
                    lazy
                        (let dir = Directory.CreateTempSubdirectory("hybrid-cka-index-").FullName
                         AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> Directory.Delete(dir, true))
                         let db = store.NewCatalog dir
                         let probe = ProbeSet.load cifar.Value 0 100 (Some mean) (Some std)
                         let model depth accuracy =
                             { LayerIndex.ModelToIndex.Path = resnet depth
                               LayerIndex.ModelToIndex.Name = $"resnet{depth}"
                               LayerIndex.ModelToIndex.Version = "1"
                               LayerIndex.ModelToIndex.Arch = None
                               LayerIndex.ModelToIndex.Accuracy = Some accuracy
                               LayerIndex.ModelToIndex.TrainedOn = Some "cifar10" }
                         let result =
                             LayerIndex.run
                                 Device.Cpu
                                 db
                                 probe
                                 LayerCapture.everyLayer
                                 [ model 20 0.8103; model 32 0.8256 ]
                                 (fun _ _ _ -> ())
                         db, result)
            )
            .Value

/// The reference: the Reference backend's float64 linear CKA of PyTorch's own activations of two ResNet-20 layers.
let referenceCka (a: string) (b: string) =
    use fixture = SafetensorsFile.Open(sharedFile "fixtures/models/resnet20_reference.safetensors")
    let activations name = Hybrid.Core.Gpu.Activations.Of(fixture.ReadFloat32 $"act_first100.{name}", 100)
    Hybrid.Core.Gpu.Cka.Score(Device.Reference, activations a, activations b)

/// Every stored layer of the index and its encoding, in index order.
let stored (db: string) (probe: string) =
    use catalog = Catalog.openOrCreate db
    [ for b in Catalog.ckaBlocks catalog (CkaFilter.Of probe) 64 do
          for i in 0 .. b.Layers.Length - 1 -> b.Layers[i], Array.sub b.Encodings (i * b.Dimension) b.Dimension ]

/// The dot product of two encodings (their linear CKA), in float64.
let dot (a: float32[]) (b: float32[]) = Array.fold2 (fun s (x: float32) y -> s + float x * float y) 0.0 a b

/// One search over the catalog at db on the CPU.
let search (db: string) (q: LayerSearch.Query) =
    use catalog = Catalog.openOrCreate db
    LayerSearch.search Device.Cpu catalog q

let private referenceTests (store: CatalogStore) =
    testList
        "resnet20 and resnet32 indexed on the first 100 CIFAR-10 test images"
        [ test "the CKA of every pair of reference layers equals PyTorch's activations' linear CKA within 1e-5" {
              let db, result = indexedOn store
              let layers = stored db result.Probe.Id
              let encoding name = layers |> List.find (fun (l, _) -> l.Model = "resnet20" && l.Layer = name) |> snd
              for a in referenceLayers do
                  for b in referenceLayers do
                      let expected = referenceCka a b
                      let actual = dot (encoding a) (encoding b)
                      Expect.floatClose
                          { absolute = 1e-5; relative = 0.0 }
                          actual
                          expected
                          $"CKA({a}, {b}) from the index vs PyTorch's activations"
          }
          test "every module of both models is indexed, in forward order, with shapes and types" {
              let db, result = indexedOn store
              Expect.equal result.Probe.Count 100 "n"
              Expect.equal result.Probe.Indices "0-99" "indices"
              let layers = stored db result.Probe.Id
              let r20 = layers |> List.filter (fun (l, _) -> l.Model = "resnet20") |> List.map fst
              Expect.equal (r20 |> List.map _.Ordinal) [ 0 .. r20.Length - 1 ] "ordinals"
              let conv1 = r20 |> List.find (fun l -> l.Layer = "conv1")
              Expect.equal conv1.OutputShape [| 16L; 32L; 32L |] "conv1's output shape"
              Expect.equal conv1.LayerType "Conv2d" "conv1's type"
              Expect.equal conv1.Parameters "weight:16x3x3x3" "conv1's own parameters"
              Expect.equal conv1.ParameterCount 432L "their count"
              Expect.isFalse
                  (r20 |> List.exists (fun l -> l.Layer = "layer1.0.shortcut"))
                  "an identity shortcut (output = input) is skipped"
              Expect.equal (r20 |> List.find (fun l -> l.Layer = "layer3")).OutputShape [| 64L; 8L; 8L |] "layer3"
              Expect.equal (r20 |> List.last).Layer "linear" "the classifier runs last"
              Expect.isLessThan conv1.Ordinal (r20 |> List.find (fun l -> l.Layer = "layer1")).Ordinal "forward order"
              for l, e in layers do
                  Expect.floatClose
                      { absolute = 1e-5; relative = 0.0 }
                      (dot e e)
                      1.0
                      $"{l.Model} {l.Layer} is a unit vector"
          }
          test "a layer searched with its own model included finds itself at score 1" {
              let db, _ = indexedOn store
              for name in referenceLayers do
                  let hits = search db { LayerSearch.query "resnet20" [ name ] with IncludeSelf = true; K = 3 }
                  let top = hits.Head.Results.Head
                  Expect.floatClose { absolute = 1e-5; relative = 0.0 } top.Score 1.0 $"{name}: the best score"
                  let itself = hits.Head.Results |> List.tryFind (fun h -> h.Model = "resnet20" && h.Layer = name)
                  match itself with
                  | Some h -> Expect.floatClose { absolute = 1e-5; relative = 0.0 } h.Score 1.0 $"{name} finds itself"
                  | None -> failtestf "%s is not among its own top hits: %A" name hits.Head.Results
          }
          test "search agrees with a brute-force scan of every stored encoding, whole or in blocks of 7" {
              let db, result = indexedOn store
              let layers = stored db result.Probe.Id
              let queries = [ "conv1"; "layer1.0"; "layer2"; "layer3.2.bn2"; "linear" ]
              for blockRows in [ LayerSearch.DefaultBlockRows; 7 ] do
                  let hits = search db { LayerSearch.query "resnet20" queries with K = 6; BlockRows = blockRows }
                  for name, found in List.zip queries hits do
                      let q = layers |> List.find (fun (l, _) -> l.Model = "resnet20" && l.Layer = name) |> snd
                      let expected =
                          layers
                          |> List.filter (fun (l, _) -> l.Model <> "resnet20")
                          |> List.mapi (fun row (l, e) -> l, dot q e, row)
                          |> List.sortBy (fun (_, s, row) -> -s, row)
                          |> List.truncate 6
                      Expect.equal found.Results.Length 6 $"{name}: k hits"
                      for h, (l, s, _) in List.zip found.Results expected do
                          // float32 dot products against float64 ones: 1e-5 absolute; near-ties may swap places, so
                          // a hit must carry the expected score of its rank, and its own score must be its CKA.
                          Expect.floatClose { absolute = 1e-5; relative = 0.0 } h.Score s $"{name}: score of {l.Layer}"
                          let own = layers |> List.find (fun (x, _) -> x.Model = h.Model && x.Layer = h.Layer) |> snd
                          Expect.floatClose { absolute = 1e-5; relative = 0.0 } h.Score (dot q own) $"{name}: {h.Layer}"
                          Expect.equal h.Model "resnet32" "the query's own model is skipped"
          }
          test "filters: minimum accuracy, layer type and training set" {
              let db, _ = indexedOn store
              let run q = (search db q).Head.Results
              let q = LayerSearch.query "resnet20" [ "layer1" ]
              Expect.isEmpty (run { q with MinAccuracy = Some 0.83 }) "no model reaches 0.83"
              Expect.isNonEmpty (run { q with MinAccuracy = Some 0.82 }) "resnet32 reaches 0.82"
              let convs = run { q with LayerType = Some "Conv2d"; K = 20 }
              Expect.equal convs.Length 20 "k hits"
              Expect.all convs (fun h -> h.LayerType = "Conv2d") "only Conv2d layers"
              Expect.isEmpty (run { q with TrainedOn = Some "imagenet" }) "no model trained on imagenet"
              Expect.isNonEmpty (run { q with TrainedOn = Some "cifar10" }) "the models trained on cifar10"
          }
          test "unknown models, layers and a bad k are one-line user errors" {
              let db, _ = indexedOn store
              let fails (fragment: string) q =
                  let e = throwsOf<InputException>(fun () -> search db q |> ignore)
                  Expect.stringContains e.Message fragment "names the problem"
              fails "resnet99 is not in the CKA index" (LayerSearch.query "resnet99" [])
              fails "has no indexed layer layer9" (LayerSearch.query "resnet20" [ "layer9" ])
              fails "--k 0" { LayerSearch.query "resnet20" [] with K = 0 }
          } ]

/// Parameters a safetensors state dict holds, without BatchNorm's buffers.
let private parameterCount (path: string) =
    use file = SafetensorsFile.Open path
    file.Tensors
    |> Seq.filter (fun t ->
        not (t.Name.EndsWith "running_mean" || t.Name.EndsWith "running_var" || t.Name.EndsWith "num_batches_tracked"))
    |> Seq.sumBy (fun t -> t.Shape |> Array.fold (fun n d -> n * int64 d) 1L)

let private compareTests (store: CatalogStore) =
    testList
        "compare"
        [ test "resnet20 with itself: unit diagonal, symmetric, PyTorch's CKA at the reference layers, same structure" {
              let db, _ = indexedOn store
              use catalog = Catalog.openOrCreate db
              let c = LayerCompare.compare catalog "resnet20" "resnet20/1" None
              let n = c.LayersA.Length
              Expect.equal c.LayersB c.LayersA "the same layers"
              for i in 0 .. n - 1 do
                  Expect.floatClose { absolute = 1e-5; relative = 0.0 } (c.Cka[i][i]) 1.0 $"diagonal {c.LayersA[i]}"
                  for j in 0 .. n - 1 do
                      Expect.floatClose { absolute = 1e-6; relative = 0.0 } (c.Cka[i][j]) (c.Cka[j][i]) "symmetric"
              for a in referenceLayers do
                  for b in referenceLayers do
                      let i, j = List.findIndex ((=) a) c.LayersA, List.findIndex ((=) b) c.LayersB
                      let expected = referenceCka a b
                      Expect.floatClose { absolute = 1e-5; relative = 0.0 } (c.Cka[i][j]) expected $"CKA({a}, {b})"
              Expect.equal
                  (List.last c.Structure.Summary)
                  "The two models have the same modules, types, output shapes and parameter shapes."
                  "no structural difference"
          }
          test "resnet20 vs resnet32: per-stage structure and parameter counts from the files' own tensors" {
              let db, _ = indexedOn store
              use catalog = Catalog.openOrCreate db
              let c = LayerCompare.compare catalog "resnet20" "resnet32" None
              let stages = c.Structure.Stages
              Expect.equal
                  (stages |> List.map _.Stage)
                  [ "conv1"; "bn1"; "layer1"; "layer2"; "layer3"; "linear" ]
                  "stages"
              Expect.equal (stages |> List.sumBy _.ParametersA) (parameterCount (resnet 20)) "resnet20's parameters"
              Expect.equal (stages |> List.sumBy _.ParametersB) (parameterCount (resnet 32)) "resnet32's parameters"
              for s in stages do
                  Expect.isEmpty s.Removed $"{s.Stage}: nothing removed"
                  Expect.isEmpty s.Changed $"{s.Stage}: nothing changed"
              let layer2 = stages |> List.find (fun s -> s.Stage = "layer2")
              // Two more blocks: conv1, bn1, conv2, bn2, then the block itself (hooks fire as modules finish, so a
              // block follows its children; the identity shortcuts are not indexed).
              Expect.equal
                  layer2.Added
                  [ for b in [ 3; 4 ] do
                        for m in [ ".conv1"; ".bn1"; ".conv2"; ".bn2"; "" ] -> $"layer2.{b}{m}" ]
                  "resnet32 adds blocks 3 and 4"
              Expect.stringContains
                  (c.Structure.Summary |> List.find (fun s -> s.StartsWith "layer2:"))
                  "resnet32/1 adds 10"
                  "the sentence for layer2"
              let best = c.Best |> List.find (fun m -> m.Layer = "conv1")
              Expect.equal best.Match "conv1" "conv1's best match is conv1"
          }
          testInTempDir "the CSV holds the matrix and the page the heatmap"
          <| fun dir ->
              let db, _ = indexedOn store
              let r = LayerCompare.run db "resnet20" "resnet32" None dir
              let lines = File.ReadAllLines r.Csv
              let c = r.Comparison
              Expect.equal lines.Length (c.LayersA.Length + 1) "a header and one line per layer of a"
              Expect.equal (lines[0].Split ',').Length (c.LayersB.Length + 1) "a column per layer of b"
              let row = lines[1].Split ','
              Expect.equal row[0] c.LayersA.Head "the row's layer"
              Expect.equal (Double.Parse(row[1], Globalization.CultureInfo.InvariantCulture)) (c.Cka[0][0]) "round-trip"
              let page = File.ReadAllText r.Html
              Expect.stringContains page "plotly.js v" "plotly.js inlined (opens offline)"
              Expect.stringContains page "\"type\":\"heatmap\"" "a heatmap trace"
              Expect.isTrue (File.Exists(Path.Combine(dir, "compare.json"))) "compare.json" ]

let private transactionTests (store: CatalogStore) =
    testList
        "re-indexing"
        [ testInCatalog store "replaces a model's rows, and a failure part way leaves the previous rows in place"
          <| fun _ db ->
              let probe =
                  { ProbeRow.Id = "p"
                    ProbeRow.Spec = "random:4:1x2x2:1"
                    ProbeRow.Indices = "0-3"
                    ProbeRow.Preprocessing = "none"
                    ProbeRow.Seed = Some 1L
                    ProbeRow.Count = 4
                    ProbeRow.InputShape = [| 1; 2; 2 |] }
              let layer ordinal name =
                  Hybrid.Bench.CkaIndexBench.syntheticLayer "p" "m" ordinal name, Array.create 10 (float32 ordinal)
              use catalog = Catalog.openOrCreate db
              let names () =
                  [ for b in Catalog.ckaBlocks catalog (CkaFilter.Of "p") 2 do
                        for l in b.Layers -> l.Layer ]
              Catalog.replaceCkaModel catalog probe [ layer 0 "a"; layer 1 "b"; layer 2 "c" ]
              Expect.equal (names ()) [ "a"; "b"; "c" ] "first index, read in blocks of 2"
              Catalog.replaceCkaModel catalog probe [ layer 0 "x"; layer 1 "y" ]
              Expect.equal (names ()) [ "x"; "y" ] "re-indexing replaced the rows"
              // The second row repeats the first's ordinal: the insert fails after the delete, inside the transaction.
              let e =
                  throwsOf<InputException>(fun () -> Catalog.replaceCkaModel catalog probe [ layer 0 "u"; layer 0 "v" ])
              Expect.stringContains e.Message catalog.Location "names the catalog"
              Expect.equal (names ()) [ "x"; "y" ] "the failed re-index left the previous rows"
              Expect.equal (Catalog.ckaProbes catalog) [ probe ] "the probe set is recorded once" ]

/// `hybrid cka index` of resnet20's conv1 and layer2 on 12 seeded random probes into db, then the flags given.
let private indexTwoLayers (db: string) (flags: string list) =
    CliTests.runCli (
        [ "cka"
          "index"
          resnet 20
          "--probe"
          "random:16:3x32x32:7"
          "--probe-count"
          "12"
          "--layers"
          "conv1"
          "layer2"
          "--db"
          db ]
        @ flags
    )

let private cliTests (store: CatalogStore) =
    testList
        "hybrid cka index and search"
        [ testInCatalog store "index two layers of resnet20 on random probes, then search with --include-self (--json)"
          <| fun dir db ->
              let code, out, err = indexTwoLayers db [ "--device"; "cpu"; "--json" ]
              Expect.equal code 0 $"index exit code (stderr: {err})"
              use doc = parseJson out
              let model = doc.RootElement.GetProperty("models")[0]
              Expect.equal (model.GetProperty("model").GetString()) "cifar10-resnet20" "named after its folder"
              Expect.equal (model.GetProperty("layers").GetInt32()) 2 "two layers"
              Expect.equal (doc.RootElement.GetProperty("probe").GetProperty("seed").GetInt64()) 7L "the seed"
              let code, out, err =
                  CliTests.runCli
                      [ "cka"
                        "search"
                        "cifar10-resnet20"
                        "layer2"
                        "--include-self"
                        "--k"
                        "1"
                        "--db"
                        db
                        "--json" ]
              Expect.equal code 0 $"search exit code (stderr: {err})"
              use doc = parseJson out
              let hit = doc.RootElement.GetProperty("results")[0]
              Expect.equal (hit.GetProperty("layer").GetString()) "layer2" "finds itself"
              Expect.floatClose { absolute = 1e-5; relative = 0.0 } (hit.GetProperty("score").GetDouble()) 1.0 "at 1"
              let code, out, err = CliTests.runCli [ "cka"; "search"; "cifar10-resnet20"; "layer2"; "--db"; db ]
              Expect.equal code 0 $"search without self (stderr: {err})"
              Expect.stringContains out "cifar10-resnet20/1 layer2" "a heading for the query"
              let code, _, err = indexTwoLayers db [ "--name"; "copy" ]
              Expect.equal code 0 $"index a copy (stderr: {err})"
              let out = Path.Combine(dir, "compare")
              let code, json, err =
                  CliTests.runCli [ "cka"; "compare"; "cifar10-resnet20"; "copy/1"; "--out"; out; "--db"; db; "--json" ]
              Expect.equal code 0 $"compare exit code (stderr: {err})"
              use doc = parseJson json
              let cka = doc.RootElement.GetProperty("comparison").GetProperty("cka")
              let layer2 = cka[1][1]
              Expect.floatClose { absolute = 1e-5; relative = 0.0 } (layer2.GetDouble()) 1.0 "layer2 vs its copy"
              Expect.isTrue (File.Exists(Path.Combine(out, "index.html"))) "the page"
              let code, _, err = CliTests.runCli [ "cka"; "search"; "nope"; "--db"; db ]
              Expect.equal code 1 "unknown model: exit code"
              Expect.equal
                  (err.Trim())
                  "hybrid: error: cka: nope is not in the CKA index (run hybrid cka index first)"
                  "one line"
          testInCatalog store "a probe beyond the data set and a missing model are one-line errors"
          <| fun dir db ->
              let code, _, err =
                  CliTests.runCli
                      [ "cka"; "index"; resnet 20; "--probe"; "random:8:3x32x32"; "--probe-count"; "9"; "--db"; db ]
              Expect.equal code 1 "exit code"
              Expect.stringContains err "holds 8 images" "names the problem"
              Expect.isFalse (err.Contains "   at ") "no stack trace"
              let missing = Path.Combine(dir, "none.safetensors")
              let code, _, err = CliTests.runCli [ "cka"; "index"; missing; "--probe"; "random:8:3x32x32"; "--db"; db ]
              Expect.equal code 1 "exit code"
              Expect.stringContains err $"{missing}: no such file" "names the file" ]

[<Tests>]
let tests =
    onEveryStore "cka index" (fun store ->
        [ referenceTests store; compareTests store; transactionTests store; cliTests store ])
