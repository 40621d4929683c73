/// Hybrid's analyses on TorchSharp tensors and modules: CKA and the Gaussian mixture against the scikit-learn / PyTorch
/// fixtures of ../shared/fixtures/kernels, CKA of a TorchSharp model's layers against Core.Nn's, and the abstract
/// architecture of a live TorchSharp module against the one traced from Core.Nn.
module Hybrid.Tests.TorchInteropAnalysisTests

open Expecto
open TorchSharp
open Hybrid.Core.Gpu
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Zoo
open Hybrid.Analysis
open Hybrid.Analysis.Architecture
open Hybrid.TorchInterop
open Hybrid.Tests.TorchInteropTests

let private fixtureTensor (name: string) =
    let data, features = CkaReferenceTests.activations name
    Tensors.toTorch (Tensor.Wrap(data, [| data.Length / features; features |]))

[<Tests>]
let tests =
    testList
        "torchsharp analyses"
        [ torchCase "linear CKA of torch tensors equals the fixture's"
          <| fun () ->
              let cka = Analyses.cka Device.Cpu (CkaOptions()) (fixtureTensor "X") (fixtureTensor "Y")
              // The fixture's tolerance (its inputs are float32, its sums float64).
              Expect.floatClose
                  { absolute = 1e-6; relative = 0.0 }
                  cka
                  CkaReferenceTests.expected.Value.LinearXY
                  "CKA(X, Y)"

          torchCase "a Gaussian mixture of a torch tensor reproduces scikit-learn's fit"
          <| fun () ->
              use file = Formats.Safetensors.SafetensorsFile.Open(sharedPath "fixtures/kernels/gmm.safetensors")
              let shape = file.Entry("data").Shape
              let data = Tensors.toTorch (Tensor.Wrap(file.ReadFloat64 "data", [| int shape.[0]; int shape.[1] |]))
              let json = (readJson (sharedPath "fixtures/kernels/gmm.json")).RootElement
              let options =
                  GaussianMixtureOptions(
                      Components = json.GetProperty("k").GetInt32(),
                      Covariance = CovarianceType.Diag,
                      Tol = json.GetProperty("tol").GetDouble(),
                      RegCovar = json.GetProperty("reg_covar").GetDouble(),
                      MaxIter = json.GetProperty("max_iter").GetInt32(),
                      WeightsInit = file.ReadFloat64 "weights_init",
                      MeansInit = file.ReadFloat64 "means_init",
                      PrecisionsInit = file.ReadFloat64 "diag.precisions_init"
                  )
              let model = Analyses.fitMixture Device.Cpu options data
              let expected = json.GetProperty("results").GetProperty("diag")
              Expect.equal model.NIter (expected.GetProperty("n_iter").GetInt32()) "n_iter"
              // GmmTests' tolerance for the lower bound: float64 sums in another order, mildly amplified by EM.
              Expect.floatClose
                  { absolute = 0.0; relative = 1e-8 }
                  model.LowerBound
                  (expected.GetProperty("lower_bound").GetDouble())
                  "lower bound"

          torchCase "CKA between the layers of a TorchSharp ResNet-20 equals Core.Nn's"
          <| fun () ->
              let core = Zoo.Create("cifar-resnet20", seed = 4L)
              let twin = StateDicts.fromCore core
              let x = Tensor.Wrap(randomNormal (System.Random 9) (40 * 3 * 32 * 32), [| 40; 3; 32; 32 |])
              let layers = [ "layer1"; "layer2"; "layer3" ]
              let ours = Analyses.layerActivations twin layers (Tensors.toTorch x)
              let modules = dict (core.NamedModules() |> Seq.map (fun struct (p, m) -> p, m))
              let captured = System.Collections.Generic.Dictionary<string, Activations>()
              let hooks =
                  [ for l in layers ->
                        modules.[l].RegisterForwardHook(fun _ _ y ->
                            captured.[l] <- Activations.Of(y.ToArray<float32>(), 40)) ]
              (use _ = core.Eval()
               use _ = Autograd.NoGrad()
               core.Call x |> ignore)
              for h in hooks do
                  h.Dispose()
              for a in layers do
                  for b in layers do
                      let expected = Cka.Score(Device.Cpu, captured.[a], captured.[b])
                      let actual = Cka.Score(Device.Cpu, ours.[a], ours.[b])
                      // Activations agree to float32 rounding (1e-4 on logits); CKA of them to well within 1e-5.
                      Expect.floatClose { absolute = 1e-5; relative = 0.0 } actual expected $"CKA({a}, {b})"

          torchCase "the abstract architecture of a live TorchSharp module matches Core.Nn's layers and hierarchy"
          <| fun () ->
              let core = Zoo.Create "cifar-resnet20"
              let twin = StateDicts.fromCore core
              let labels = { ModelType = Some "cifar-resnet20"; Architectures = [ "ResNet" ]; Task = None }
              let live = Structure.ofModule "resnet20" labels twin (torch.zeros (1L, 3L, 32L, 32L))
              let traced = FromModule.ofZoo "cifar-resnet20"
              let weighted (a: Architecture) =
                  a.Nodes
                  |> Array.filter (fun n -> not n.Parameters.IsEmpty)
                  |> Array.map (fun n -> n.ModulePath, n.LayerType, List.sort n.Parameters, n.OutputShape)
              Expect.sequenceEqual (weighted live) (weighted traced) "weighted layers: path, type, parameters, shape"
              let paths (a: Architecture) = a.Hierarchy |> List.map (fun e -> e.Path, e.Type, e.Depth, e.Leaf)
              Expect.sequenceEqual (paths live) (paths traced) "module hierarchy"
              Expect.isGreaterThanOrEqual live.Edges.Length (live.Nodes.Length - 1) "a connected graph"

          torchCase "a live TorchSharp module goes into the catalog and loads back"
          <| fun () ->
              withTempDir (fun dir ->
                  let twin = StateDicts.fromCore (Zoo.Create "small-cnn")
                  let labels =
                      { ModelType = Some "small-cnn"
                        Architectures = [ "SmallCnn" ]
                        Task = Some "image-classification" }
                  use catalog = Catalog.openOrCreate (System.IO.Path.Combine(dir, "hybrid.db"))
                  let input = torch.zeros (1L, 3L, 28L, 28L)
                  let id = Structure.addToCatalog catalog "small-cnn" labels twin input
                  let stored = Catalog.load catalog id
                  let live = Structure.ofModule "small-cnn" labels twin input
                  Expect.equal stored.Format "torchsharp" "format"
                  Expect.sequenceEqual
                      (stored.Nodes |> Array.map _.LayerType)
                      (live.Nodes |> Array.map _.LayerType)
                      "layers"
                  Expect.sequenceEqual stored.Edges live.Edges "edges"
                  let row = Catalog.models catalog |> List.exactlyOne
                  Expect.equal row.ContentHash (Structure.contentHash twin) "content hash") ]
