/// Deduplication: exact LCS (against brute force), base names, blocks, and groups over the torchvision corpus.
module Hybrid.Tests.DedupTests

open System.IO
open Expecto
open FsCheck.FSharp
open Hybrid.Analysis

/// LCS by enumerating every subsequence of the shorter sequence (exponential: short inputs only).
let private bruteForceLcs (a: int[]) (b: int[]) =
    let shorter, longer = if a.Length <= b.Length then a, b else b, a
    let isSubsequence (xs: int list) =
        let rec go xs j =
            match xs with
            | [] -> true
            | x :: rest ->
                match Seq.tryFindIndex ((=) x) (Seq.skip j longer) with
                | Some k -> go rest (j + k + 1)
                | None -> false
        go xs 0
    seq { 0 .. (1 <<< shorter.Length) - 1 }
    |> Seq.map (fun mask ->
        [ for i in 0 .. shorter.Length - 1 do
              if mask &&& (1 <<< i) <> 0 then
                  shorter[i] ])
    |> Seq.filter isSubsequence
    |> Seq.map List.length
    |> Seq.max

let private bitParallel (a: int[]) (b: int[]) = Dedup.LcsPattern(a, 1 + Array.fold max 0 (Array.append a b)).Lcs b

let private sequences (longest: int) (symbols: int) =
    gen {
        let! n = Gen.choose (0, longest)
        return! Gen.arrayOfLength n (Gen.choose (0, symbols - 1))
    }

let private short = sequences 10 4
let private long = sequences 300 6

let private config = { FsCheckConfig.defaultConfig with maxTest = 300 }

let private corpusDir = sharedPath "data/torchvision-architectures"
let private load (name: string) =
    Extract.fromPath (sharedFile $"data/torchvision-architectures/{name}.onnx") |> List.exactlyOne

/// The corpus with ids 1..n, in file-name order.
let private corpus =
    lazy
        (Directory.GetFiles(corpusDir, "*.onnx")
         |> Array.sort
         |> Array.mapi (fun i f -> int64 (i + 1), Extract.fromPath f |> List.exactlyOne)
         |> List.ofArray)

let private groupOf (result: Dedup.Result) (id: int64) =
    result.Groups |> List.find (fun g -> g.Members |> List.exists (fun m -> m.Id = id))
let private together result a b = (groupOf result a).Group = (groupOf result b).Group

/// The corpus model's id by name.
let private idOf (name: string) = corpus.Value |> List.find (fun (_, a) -> a.Name = name) |> fst

/// Groups stored in a catalog, and `hybrid dedup` over one, on each catalog store.
let private storeTests (store: CatalogStore) =
    [ testInTempDir "groups are written to the catalog, one row per model, replaced on a re-run" (fun dir ->
          use c = Catalog.openOrCreate (store.NewCatalog dir)
          for f in Directory.GetFiles(corpusDir, "*.onnx") |> Array.sort |> Array.take 6 do
              let arch = Extract.fromPath f |> List.exactlyOne
              Catalog.insert c { ModelSource.Path = f; ModelSource.Hash = f } None arch |> ignore
          let result = Dedup.run c "both" 0.85
          let rows = Catalog.groups c "both"
          Expect.equal rows.Length 6 "one row per model"
          for g in result.Groups do
              for m in g.Members do
                  let row = rows |> List.find (fun r -> r.Model = m.Id)
                  Expect.equal
                      (row.Group, row.Representative, row.Score)
                      (g.Group, g.Representative, m.Score)
                      "stored as computed"
          Dedup.run c "both" 0.85 |> ignore
          Expect.equal (Catalog.groups c "both").Length 6 "replaced, not appended"
          Expect.equal (Catalog.groups c "name").Length 0 "other strategies untouched")
      testInCatalog
          store
          "hybrid dedup --json over an extracted catalog; a threshold outside (0, 1] is one error line"
          (fun _ db ->
              let files =
                  [ for n in [ "resnet18"; "resnet50"; "wide_resnet50_2" ] ->
                        sharedFile $"data/torchvision-architectures/{n}.onnx" ]
              let code, _, err = CliTests.runCli ([ "extract" ] @ files @ [ "--db"; db ])
              Expect.equal code 0 $"extract (stderr: {err})"
              let code, out, err = CliTests.runCli [ "dedup"; "--db"; db; "--strategy"; "architecture"; "--json" ]
              Expect.equal code 0 $"dedup (stderr: {err})"
              use doc = parseJson out
              let groups =
                  doc.RootElement.GetProperty("groups").EnumerateArray()
                  |> Seq.map (fun g -> g.GetProperty("members").GetArrayLength())
                  |> List.ofSeq
              Expect.equal
                  (List.sort groups)
                  [ 1; 2 ]
                  "resnet50 and wide_resnet50_2 together (same layer sequence), resnet18 alone"
              let code, out, err = CliTests.runCli [ "dedup"; "--db"; db; "--strategy"; "name"; "--threshold"; "1.5" ]
              Expect.equal code 1 "exit code"
              Expect.equal (err.Trim()) "hybrid: error: dedup: --threshold 1.5 is outside (0, 1]" "one line"
              Expect.equal out "" "nothing on stdout") ]

[<Tests>]
let tests =
    testList
        "dedup"
        [ testPropertyWithConfig config "LCS by DP and bit-parallel equal brute force on short sequences"
          <| Prop.forAll (Arb.fromGen (Gen.zip short short)) (fun (a, b) ->
              let expected = bruteForceLcs a b
              Dedup.lcsLength a b = expected && bitParallel a b = expected && bitParallel b a = expected)
          testPropertyWithConfig config "bit-parallel LCS equals DP across word boundaries"
          <| Prop.forAll (Arb.fromGen (Gen.zip long long)) (fun (a, b) -> bitParallel a b = Dedup.lcsLength a b)
          testPropertyWithConfig config "sequence_ratio is 2 LCS / (|a| + |b|), symmetric, 1 on itself"
          <| Prop.forAll (Arb.fromGen (Gen.zip short short)) (fun (a, b) ->
              let text (xs: int[]) = xs |> Array.map (sprintf "L%d")
              let r = Dedup.sequenceRatio (text a) (text b)
              abs (r - Dedup.ratioOfLcs (bruteForceLcs a b) a.Length b.Length) < 1e-12
              && r = Dedup.sequenceRatio (text b) (text a)
              && Dedup.sequenceRatio (text a) (text a) = 1.0)
          test "base names drop what follows - or _ and version or size suffixes" {
              for name, expected in
                  [ "resnet50", "resnet"
                    "vgg16_bn", "vgg"
                    "mobilenet_v3_small", "mobilenet"
                    "google/vit-base-patch16-224", "vit"
                    "models--bert-base-uncased", "bert"
                    "t5-small", "t5"
                    "mobilenetv2", "mobilenet"
                    "GPT2-XL", "gpt"
                    "alexnet", "alexnet" ] do
                  Expect.equal (Dedup.baseName name) expected name
          }
          test "blocks are distinct prefixes ending at a block, layer, encoder or decoder component" {
              let arch = CatalogTests.handmade
              // Paths: embeddings, encoder.layer.0.norm, encoder.layer.0 -> blocks encoder, encoder.layer.
              Expect.equal (Dedup.blocks arch) 2 "handmade"
              Expect.equal
                  (Dedup.blocks
                      { arch with
                          Hierarchy = []
                          Nodes = [| { arch.Nodes[0] with ModulePath = "Decoder.x.myBlock.y" } |] })
                  2
                  "case-insensitive, nested"
          }
          test "similarity: 0 past a 30% layer-count gap, block term 1 without blocks" {
              Expect.equal (Dedup.similarity 1.0 (100, 0) (69, 0)) 0.0 "31% apart"
              Expect.floatClose
                  Accuracy.veryHigh
                  (Dedup.similarity 0.5 (100, 4) (70, 2))
                  (0.7 * 0.5 + 0.3 * 0.5)
                  "within 30%"
              Expect.equal (Dedup.similarity 1.0 (10, 0) (10, 0)) 1.0 "no blocks"
          }
          testWithTempFile
              "identical graphs under another name share a hash and a group at score 1"
              "copied.onnx"
              (fun copy ->
                  File.Copy(sharedFile "data/torchvision-architectures/resnet18.onnx", copy)
                  let a, b = load "resnet18", Extract.fromPath copy |> List.exactlyOne
                  Expect.equal (Dedup.structuralHash b) (Dedup.structuralHash a) "same hash"
                  let result = Dedup.byArchitecture 0.85 [ 1L, a; 2L, b; 3L, load "vgg11" ]
                  Expect.isTrue (together result 1L 2L) "grouped"
                  Expect.equal result.Pairs [ { Dedup.Pair.A = 1L; B = 2L; Score = 1.0 } ] "one link, by hash"
                  Expect.equal result.Scored 2L "both pairs with vgg11 scored")
          test "over the corpus, a copy with one layer changed groups with its original and no other family" {
              let models = corpus.Value
              let changed =
                  models
                  |> List.map (fun (id, a) ->
                      let k = a.Nodes.Length / 2
                      let nodes =
                          a.Nodes
                          |> Array.mapi (fun i n ->
                              if i = k then { n with LayerType = n.LayerType + "Changed" } else n)
                      id + 100L, { a with Name = a.Name + "-changed"; Nodes = nodes })
              let result = Dedup.byArchitecture 0.85 (models @ changed)
              for id, a in models do
                  Expect.isTrue (together result id (id + 100L)) $"{a.Name} and its changed copy"
                  Expect.notEqual
                      (Dedup.structuralHash a)
                      (Dedup.structuralHash (snd (changed |> List.find (fst >> (=) (id + 100L)))))
                      "hash differs"
              // One model per family. vgg11 and vgg16_bn are both VGG: with BatchNorm folded into the convolutions they differ
              // in depth only. AlexNet is left out: its 20 layer types are a subsequence of VGG-11's 28 and neither has
              // blocks, so ALGORITHMS.md's formula scores the pair 0.7 * 40/48 + 0.3 = 0.883 and groups them at 0.85.
              let families =
                  [ "resnet18"
                    "vgg11"
                    "densenet121"
                    "vit_b_16"
                    "swin_t"
                    "mobilenet_v2"
                    "squeezenet1_1"
                    "inception_v3"
                    "efficientnet_b0"
                    "shufflenet_v2_x0_5"
                    "regnet_x_400mf" ]
              for x in families do
                  for y in families do
                      if x < y then
                          Expect.isFalse (together result (idOf x) (idOf y)) $"{x} and {y} are different families"
          }
          onEveryStore "stored groups" storeTests ]
