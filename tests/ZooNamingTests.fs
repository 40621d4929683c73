/// Naming anomalies where nothing but the zoo is at hand, as in `hybrid demo`: seeded perturbations of an
/// architecture (layers dropped or repeated) and the demo's naming stage, trained on perturbed zoo architectures,
/// checking a model file, the zoo and copies given a wrong declared class.
module Hybrid.Tests.ZooNamingTests

open System.IO
open Expecto
open Hybrid.Core.Gpu
open Hybrid.Core.Nn.Zoo
open Hybrid.Analysis
open Hybrid.Analysis.Naming

let private zoo (name: string) = Extract.fromPath (Extract.zooPrefix + name) |> List.exactlyOne

let private isDag (a: Architecture.Architecture) =
    a.Nodes |> Array.mapi (fun i n -> n.Id = i) |> Array.forall id
    && a.Edges |> Array.forall (fun (x, y) -> x <> y && x >= 0 && y >= 0 && x < a.Nodes.Length && y < a.Nodes.Length)
    && Result.isOk (Graphs.topologicalOrder a.Nodes.Length a.Edges)

[<Tests>]
let tests =
    testList
        "naming on the zoo"
        [ test "a dropped layer's neighbours are joined; a repeated layer feeds its copy; variants are seeded DAGs" {
              let a = zoo "cifar-resnet20"
              let k = 5
              let before = a.Edges |> Array.filter (fun (_, y) -> y = k) |> Array.map fst
              let after = a.Edges |> Array.filter (fun (x, _) -> x = k) |> Array.map snd
              let dropped = Perturbation.drop a k
              Expect.equal dropped.Nodes.Length (a.Nodes.Length - 1) "one node fewer"
              Expect.isTrue (isDag dropped) "still a DAG with ids in order"
              let renumber i = if i > k then i - 1 else i
              for p in before do
                  for s in after do
                      Expect.contains dropped.Edges (renumber p, renumber s) "a predecessor feeds a successor"
              let repeated = Perturbation.repeat a k
              Expect.equal repeated.Nodes.Length (a.Nodes.Length + 1) "one node more"
              Expect.isTrue (isDag repeated) "still a DAG with ids in order"
              Expect.contains repeated.Edges (k, k + 1) "the layer feeds its copy"
              Expect.equal repeated.Nodes[k + 1].LayerType a.Nodes[k].LayerType "the copy has the layer's type"
              for s in after do
                  Expect.contains repeated.Edges (k + 1, s + 1) "the copy feeds the layer's successors"
              let variants = Perturbation.variants 3 6 4 a
              Expect.equal variants (Perturbation.variants 3 6 4 a) "the same seed, the same copies"
              Expect.notEqual variants (Perturbation.variants 4 6 4 a) "another seed, other copies"
              for v in variants do
                  Expect.isTrue (isDag v) $"{v.Name} is a DAG"
                  Expect.isLessThanOrEqual (abs (v.Nodes.Length - a.Nodes.Length)) 4 $"{v.Name}: at most 4 edits"
          }
          testInTempDir
              "the demo's naming stage flags the mislabelled copies and no correctly labelled model"
              (fun dir ->
                  let architectures =
                      [ "cifar-resnet20"
                        "cifar-resnet32"
                        "cifar-vgg11-bn"
                        "cifar-vgg13-bn"
                        "mlp-mixer-cifar"
                        "mobilenet-v3-small"
                        "small-cnn" ]
                      |> List.map zoo
                  let file = Path.Combine(dir, "small-cnn.onnx")
                  Training.save
                      (Zoo.Create("small-cnn", numClasses = 10, inChannels = 1, seed = 2L))
                      [| 1; 28; 28 |]
                      (readOnlyDict [])
                      file
                  let outcome =
                      Hybrid.Cli.DemoNaming.train
                          Device.Cpu
                          architectures
                          (Extract.fromPath file)
                          (Path.Combine(dir, "naming"))
                  Expect.equal outcome.Injected 2 "a file and a zoo model given a wrong class"
                  Expect.equal outcome.Caught outcome.Injected "every mislabelled copy flagged"
                  Expect.equal outcome.FalseFlags 0 "no correctly labelled model flagged") ]
