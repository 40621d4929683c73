/// The catalog and batch extraction: round trips, skips by content hash, failures that leave no rows behind.
module Hybrid.Tests.CatalogTests

open System
open System.IO
open Expecto
open Hybrid.Analysis
open Hybrid.Analysis.Architecture

let private corpus name = sharedFile $"data/torchvision-architectures/{name}.onnx"

/// An architecture with every kind of attribute, an unknown output shape, pruned nodes and labels.
let handmade =
    let node i name kind path attributes parameters shape =
        { Id = i
          Name = name
          LayerType = kind
          Original = kind.ToLowerInvariant()
          Attributes = attributes
          Parameters = parameters
          OutputShape = shape
          ModulePath = path }
    { Name = "handmade"
      Format = "trace"
      Labels = { ModelType = Some "bert"; Architectures = [ "BertModel"; "Other" ]; Task = Some "fill-mask" }
      Nodes =
        [| node 0 "embed" "Embedding" "embeddings" Map.empty [ "weight", [| 30522L; 768L |] ] (Some [| 1L; 8L; 768L |])
           node
               1
               "norm"
               "LayerNorm"
               "encoder.layer.0.norm"
               (Map.ofList
                   [ "eps", Float 1e-12
                     "axis", Int -1L
                     "mode", Text "x"
                     "shape", Ints [| 768L |]
                     "one", Float 1.0
                     "inf", Float infinity ])
               [ "weight", [| 768L |]; "bias", [| 768L |] ]
               None
           node 2 "gelu" "GELU" "encoder.layer.0" Map.empty [] (Some [||]) |]
      Edges = [| 0, 1; 1, 2; 0, 2 |]
      Hierarchy =
        [ { Path = "embeddings"; Type = "BertEmbeddings"; Depth = 0; Leaf = false }
          { Path = "encoder.layer.0.norm"; Type = "LayerNorm"; Depth = 3; Leaf = true } ]
      Pruned = [ "dangling" ]
      OriginalOps = Map.ofList [ "embedding", 1; "layernorm", 1; "gelu", 1; "dangling", 1 ] }

let private source path = { ModelSource.Path = path; ModelSource.Hash = "h-" + path }

let private withCatalog (store: CatalogStore) f =
    withTempDir (fun dir -> use c = Catalog.openOrCreate (store.NewCatalog dir) in f dir c)

let private failures (outcomes: Extraction.Outcome list) =
    outcomes
    |> List.choose (function
        | Extraction.Failed(p, m) -> Some(p, m)
        | _ -> None)

/// Every table's row count stays as it was while action fails.
let private leavesNoRows (c: ICatalog) (action: unit -> unit) =
    let before = Catalog.counts c
    action ()
    Expect.equal (Catalog.counts c) before "row counts of every table unchanged"

let private storeTests (store: CatalogStore) =
    let withCatalog = withCatalog store
    [ test "insert then load gives back the same architecture, handmade and extracted" {
          withCatalog (fun _ c ->
              let resnet = Extract.fromPath (corpus "resnet18") |> List.exactlyOne
              for arch in [ handmade; resnet ] do
                  let id = Catalog.insert c (source arch.Name) None arch
                  Expect.equal (Catalog.load c id) arch $"{arch.Name} round trip"
              let rows = Catalog.models c
              Expect.equal (rows |> List.map _.Name) [ "handmade"; "resnet18" ] "models listed in order"
              Expect.equal rows.Head.Architectures [ "BertModel"; "Other" ] "labels"
              Expect.equal rows[1].NodeCount resnet.Nodes.Length "node count"
              Expect.equal rows[1].ParameterCount resnet.ParameterCount "parameter count"
              Expect.equal (Catalog.tryFindByHash c "h-resnet18") (Some [ rows[1].Id ]) "found by hash"
              Expect.isNone (Catalog.tryFindByHash c "h-other") "unknown hash")
      }
      test "a task given at insert replaces the model's own" {
          withCatalog (fun _ c ->
              let id = Catalog.insert c (source "x") (Some "image-classification") handmade
              Expect.equal (Catalog.load c id).Labels.Task (Some "image-classification") "task")
      }
      test "a failure in the middle of an insert leaves nothing" {
          withCatalog (fun _ c ->
              // The edge to a node that does not exist is refused after the model row and its nodes were written.
              let broken = { handmade with Edges = Array.append handmade.Edges [| 1, 99 |] }
              leavesNoRows c (fun () ->
                  let e = throwsOf<InputException>(fun () -> Catalog.insert c (source "broken") None broken |> ignore)
                  Expect.stringContains e.Message "broken" "names the source")
              // Several models of one source: the second's failure takes the first back too.
              leavesNoRows c (fun () ->
                  throwsOf<InputException>(fun () ->
                      Catalog.insertAll c (source "two") None [ handmade; broken ] |> ignore)
                  |> ignore)
              Catalog.insert c (source "fine") None handmade |> ignore
              Expect.equal (Catalog.counts c).["models"] 1L "the catalog still takes models")
      }
      testInCatalog store "reopening keeps the models and the schema version" (fun _ path ->
          (use c = Catalog.openOrCreate path in Catalog.insert c (source "a") None handmade |> ignore)
          use c = Catalog.openOrCreate path
          Expect.equal (Catalog.models c).Length 1 "one model"
          Expect.equal c.SchemaVersion Catalog.schemaVersion "schema version through the interface"
          use cmd = (c :?> DbCatalog.DbCatalog).Connection.CreateCommand()
          cmd.CommandText <- "SELECT max(version) FROM schema_version"
          Expect.equal (Convert.ToInt32(cmd.ExecuteScalar())) Catalog.schemaVersion "schema version")
      test "re-extracting the same file, or a copy under another name, is skipped" {
          withCatalog (fun dir c ->
              let first = Extraction.run c None false [ corpus "resnet18" ] ignore
              let copy = Path.Combine(dir, "renamed.onnx")
              File.Copy(corpus "resnet18", copy)
              let before = Catalog.counts c
              let again = Extraction.run c None false [ corpus "resnet18"; copy ] ignore
              match first, again with
              | [ Extraction.Stored(_, [ id ], _) ], [ Extraction.Skipped(_, [ a ]); Extraction.Skipped(_, [ b ]) ] ->
                  Expect.equal (a, b) (id, id) "skipped as the stored model"
              | _ -> failtestf "unexpected outcomes %A then %A" first again
              Expect.equal (Catalog.counts c) before "nothing written")
      }
      test "a failing file in a batch is reported and the others are stored" {
          withCatalog (fun dir c ->
              let folder = Directory.CreateDirectory(Path.Combine(dir, "models")).FullName
              for name in [ "resnet18"; "squeezenet1_1" ] do
                  File.Copy(corpus name, Path.Combine(folder, name + ".onnx"))
              let corrupt = Path.Combine(folder, "corrupt.onnx")
              File.WriteAllBytes(corrupt, Array.init 512 (fun i -> byte (i * 37 % 251)))
              let progress = ResizeArray()
              let outcomes = Extraction.run c None false [ folder ] progress.Add
              Expect.equal progress.Count 3 "one report per file"
              Expect.equal (progress |> Seq.map _.Done |> List.ofSeq) [ 1; 2; 3 ] "in order"
              match failures outcomes with
              | [ path, message ] ->
                  Expect.equal path corrupt "the corrupt file failed"
                  Expect.stringContains message corrupt "the message names it"
              | other -> failtestf "expected one failure, got %A" other
              Expect.equal
                  (Catalog.models c |> List.map _.Name |> List.sort)
                  [ "resnet18"; "squeezenet1_1" ]
                  "the others are stored")
      }
      test "corrupt protobuf, truncated safetensors, a folder without models: clear failures, no rows" {
          withCatalog (fun dir c ->
              Catalog.insert c (source "kept") None handmade |> ignore
              let corrupt = Path.Combine(dir, "corrupt.onnx")
              let bytes = File.ReadAllBytes(corpus "alexnet")
              File.WriteAllBytes(corrupt, Array.append bytes[..99] (Array.create 64 0xFFuy))
              let truncated = Path.Combine(dir, "truncated.safetensors")
              let weights = File.ReadAllBytes(sharedFile "models/cifar10-resnet20/model.safetensors")
              File.WriteAllBytes(truncated, weights[.. weights.Length / 2])
              let empty = Directory.CreateDirectory(Path.Combine(dir, "empty")).FullName
              for path, problem in
                  [ corrupt, "corrupt.onnx"; truncated, "truncated.safetensors"; empty, "no model files" ] do
                  leavesNoRows c (fun () ->
                      match failures (Extraction.run c None true [ path ] ignore) with
                      | [ p, message ] ->
                          Expect.equal p path "the path failed"
                          Expect.stringContains message problem "the message names the file or problem"
                          Expect.isFalse (message.Contains "   at ") "no stack trace"
                      | other -> failtestf "%s: expected one failure, got %A" path other))
      }
      testInCatalog
          store
          "hybrid extract: a failing file gives exit code 1, a summary, and the others stored"
          (fun dir db ->
              File.Copy(corpus "resnet18", Path.Combine(dir, "resnet18.onnx"))
              File.WriteAllBytes(Path.Combine(dir, "bad.onnx"), [| 1uy; 2uy; 3uy; 0xFFuy |])
              let code, out, err = CliTests.runCli [ "extract"; dir; "--db"; db; "--json" ]
              Expect.equal code 1 $"exit code (stderr: {err})"
              use doc = parseJson out
              let summary = doc.RootElement.GetProperty "summary"
              Expect.equal (summary.GetProperty("stored_models").GetInt32()) 1 "one stored"
              Expect.equal (summary.GetProperty("failed").GetInt32()) 1 "one failed"
              Expect.stringContains err "bad.onnx" "progress names the failure"
              let code, out, _ = CliTests.runCli [ "extract"; Path.Combine(dir, "resnet18.onnx"); "--db"; db ]
              Expect.equal code 0 "a skip is no failure"
              Expect.stringContains out "skipped 1 already catalogued" "summary") ]

[<Tests>]
let tests =
    testList
        "catalog"
        [ onEveryStore "on each store" storeTests
          testWithTempFile "a file that is not a catalog is refused with one message naming it" "junk.db" (fun junk ->
              File.WriteAllText(junk, String.replicate 200 "not sqlite ")
              refusesFile "cannot open the catalog" junk (fun () ->
                  (Catalog.openOrCreate junk :> IDisposable).Dispose()))
          testInTempDir "folder content hash: independent of enumeration, sensitive to names and bytes" (fun dir ->
              let folder = Directory.CreateDirectory(Path.Combine(dir, "m")).FullName
              File.WriteAllText(Path.Combine(folder, "config.json"), "{}")
              File.WriteAllText(Path.Combine(folder, "b.txt"), "b")
              let h0 = Extraction.contentHash folder
              Expect.equal (Extraction.contentHash folder) h0 "stable"
              File.Move(Path.Combine(folder, "b.txt"), Path.Combine(folder, "c.txt"))
              let h1 = Extraction.contentHash folder
              Expect.notEqual h1 h0 "a renamed file changes it"
              File.WriteAllText(Path.Combine(folder, "c.txt"), "c")
              Expect.notEqual (Extraction.contentHash folder) h1 "changed bytes change it") ]
