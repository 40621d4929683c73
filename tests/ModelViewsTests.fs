/// The model-analysis views on the real ResNet-20 and the first CIFAR-10 test images: the confusion matrix against
/// PyTorch's predictions (resnet20_reference.safetensors) and eval's own argmax path, each cell's confidences against
/// the softmax of PyTorch's logits, activation maps against PyTorch's forward-hook activations, the input gradient of
/// activation maximisation against finite differences on a tiny float64 model, the optimised inputs against the seed
/// noise and real images, and the PNG files read back.
module Hybrid.Tests.ModelViewsTests

open System
open System.IO
open Expecto
open Hybrid.Analysis
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Modules
open Hybrid.Tests.CifarResnet20

let private fixture = lazy (SafetensorsFile.Open(sharedFile "fixtures/models/resnet20_reference.safetensors"))

/// Images checked by the confusion view: enough that most cells are filled, few enough to stay a few seconds.
let private confusionCount = 1000

let private confusion =
    lazy
        (let data = firstImages confusionCount
         let network = Networks.ZooModel("resnet20", model.Value)
         data, ConfusionView.compute Device.Cpu network "resnet20" data mean std 250 5 (fun _ _ -> ()))

/// A PNG file's width and height, read back by StbImageSharp (the decoder Core.Nn reads image folders with).
let private pngSize (path: string) =
    use stream = File.OpenRead path
    let image = StbImageSharp.ImageResult.FromStream(stream, StbImageSharp.ColorComponents.RedGreenBlue)
    image.Width, image.Height

let private confusionTests =
    testList
        "confusion"
        [ test "the matrix is PyTorch's predictions and eval's, cell by cell" {
              let data, c = confusion.Value
              let reference = fixture.Value.ReadInt64 "pred_all"
              let disagree =
                  Seq.init confusionCount id
                  |> Seq.filter (fun i -> int64 c.Predictions[i] <> reference[i])
                  |> Seq.length
              // PyTorch and Core.Nn agree on at least 9,995 of the 10,000 images (NnModelTests); on these 1,000, on all.
              Expect.equal disagree 0 "predictions that differ from PyTorch's"
              let expected = Array.init 10 (fun _ -> Array.zeroCreate 10)
              for i in 0 .. confusionCount - 1 do
                  let t, p = int data.Labels[i], int reference[i]
                  expected[t][p] <- expected[t][p] + 1
              Expect.equal c.Matrix expected "matrix from PyTorch's predictions"
              let network = Networks.ZooModel("resnet20", model.Value)
              let eval = Networks.evaluate { Networks.pass Device.Cpu network data 100 with Mean = mean; Std = std }
              Expect.equal c.Matrix eval.Confusion "eval's confusion matrix"
              Expect.equal c.Accuracy eval.Accuracy "eval's accuracy"
              Expect.equal (c.Cells |> List.sumBy _.Count) confusionCount "the cells hold every image"
          }
          test "each cell keeps its k most confident images, with PyTorch's softmax" {
              let data, c = confusion.Value
              let logits = fixture.Value.ReadFloat32 "logits_first64"
              for cell in c.Cells do
                  let members =
                      [ for i in 0 .. confusionCount - 1 do
                            if int data.Labels[i] = cell.Truth && c.Predictions[i] = cell.Predicted then
                                i ]
                  Expect.equal cell.Count members.Length $"cell {cell.Truth},{cell.Predicted}: count"
                  Expect.equal cell.Top.Length (min 5 members.Length) "k images or all"
                  let confidences = cell.Top |> List.map _.Confidence
                  Expect.equal confidences (List.sortDescending confidences) "most confident first"
                  for image in cell.Top do
                      Expect.contains members image.Index "an image of the cell"
                  // Nothing outside the top k is more confident than its last image.
                  let kept = cell.Top |> List.map _.Index |> set
                  let floor = List.last confidences
                  for i in members |> List.filter (fun i -> not (kept.Contains i) && i < 64) do
                      let row = logits[i * 10 .. i * 10 + 9] |> Array.map float
                      let top = Array.max row
                      let p = 1.0 / (row |> Array.sumBy (fun v -> exp (v - top)))
                      Expect.isLessThanOrEqual p (floor + 1e-5) $"image {i} is not more confident than the cell's kth"
                  for image in cell.Top |> List.filter (fun x -> x.Index < 64) do
                      let row = logits[image.Index * 10 .. image.Index * 10 + 9] |> Array.map float
                      let top = Array.max row
                      let p = 1.0 / (row |> Array.sumBy (fun v -> exp (v - top)))
                      // 1e-5 absolute: PyTorch's and our logits agree to about 1e-5 (NnModelTests).
                      Expect.floatClose { absolute = 1e-5; relative = 1e-5 } image.Confidence p $"image {image.Index}"
          }
          testInTempDir "CSV, JSON and one contact sheet per cell, k tiles wide"
          <| fun dir ->
              let data, c = confusion.Value
              let sheets = ConfusionView.write dir data c
              Expect.equal sheets.Length c.Cells.Length "one sheet per non-empty cell"
              let csv = File.ReadAllLines(Path.Combine(dir, "confusion.csv"))
              Expect.equal csv.Length 11 "header and ten rows"
              Expect.equal (csv[1]) ("\"airplane\"," + String.Join(",", c.Matrix[0])) "first row"
              use json = readJson (Path.Combine(dir, "confusion.json"))
              let stored = json.RootElement.GetProperty("matrix").[3].[5]
              Expect.equal (stored.GetInt32()) (c.Matrix[3][5]) "json matrix"
              for cell, file in List.zip c.Cells sheets do
                  let w, h = pngSize (Path.Combine(dir, file))
                  // Tiles of 96 px (32 px enlarged 3 times), 2 px apart and around.
                  Expect.equal (w, h) (cell.Top.Length * 98 + 2, 100) $"{file}: size" ]

let private mapsTests =
    testList
        "activation maps"
        [ test "a stage's maps are PyTorch's forward-hook activations" {
              let data = firstImages 4
              let images = AnalyzeModelService.normalised data mean std
              let reference = fixture.Value.ReadFloat32 "act_first100.layer2"
              for image in [ 0; 3 ] do
                  let one = Array.sub images (image * 3072) 3072
                  let maps =
                      ActivationMaps.compute Device.Cpu model.Value "layer2" [ 0; 7; 31 ] [| 3; 32; 32 |] one image [] 0
                  Expect.equal maps.OutputShape [| 32; 16; 16 |] "shape"
                  for i, channel in List.indexed [ 0; 7; 31 ] do
                      let expected = Array.sub reference ((image * 32 + channel) * 256) 256
                      // 1e-4 absolute + 1e-4 relative, as the forward-hook tests of NnModelTests.
                      closeTo 1e-4 1e-4 $"image {image} channel {channel}" expected (maps.Values[i])
                      Expect.floatClose
                          { absolute = 1e-5; relative = 1e-5 }
                          (maps.Channels[i].Mean)
                          (expected |> Array.averageBy float)
                          "mean"
          }
          test "without channels, the most active ones" {
              let images = AnalyzeModelService.normalised (firstImages 1) mean std
              let maps = ActivationMaps.compute Device.Cpu model.Value "layer1" [] [| 3; 32; 32 |] images 0 [] 0
              let means = maps.Channels |> List.map _.Mean
              Expect.equal means.Length ActivationMaps.DefaultChannels "default count"
              Expect.equal means (List.sortDescending means) "most active first"
          }
          test "an unknown layer and a channel out of range are one-line errors" {
              let images = AnalyzeModelService.normalised (firstImages 1) mean std
              let unknown =
                  throwsOf<InputException>(fun () ->
                      ActivationMaps.compute Device.Cpu model.Value "layer9" [] [| 3; 32; 32 |] images 0 [] 0 |> ignore)
              Expect.stringContains unknown.Message "no module 'layer9'" "names the layer"
              let outOfRange =
                  throwsOf<InputException>(fun () ->
                      ActivationMaps.compute Device.Cpu model.Value "layer1" [ 16 ] [| 3; 32; 32 |] images 0 [] 0
                      |> ignore)
              Expect.stringContains outOfRange.Message "channel 16 is out of range: layer1 has 16 channels" "names it"
          } ]

/// A small float64 network with every kind of module the views pass through: convolution, batch norm (evaluation
/// mode, with non-trivial running statistics), ReLU, pooling and a linear head.
let private tinyModel () =
    let generator = Generator 7L
    let bn = BatchNorm2d 4
    let m =
        Sequential(
            Conv2d(3, 4, Size2(3, 3), padding = Size2(1, 1), generator = generator),
            bn,
            ReLU(),
            Conv2d(4, 5, Size2(3, 3), stride = Size2(2, 2), generator = generator),
            ReLU(),
            AdaptiveAvgPool2d(Size2(1, 1)),
            Flatten(),
            Linear(5, 3, generator = generator)
        )
    let fill (name: string) (values: float32[]) =
        for struct (path, buffer) in m.NamedBuffers() do
            if path = name then
                values.CopyTo(buffer.Span<float32>())
    fill "1.running_mean" [| 0.3f; -0.2f; 0.1f; 0.5f |]
    fill "1.running_var" [| 0.6f; 1.5f; 0.9f; 2.0f |]
    m.To ScalarType.Float64

let private maximiseTests =
    testList
        "activation maximisation"
        [ test "the input gradient matches central differences on a tiny float64 model" {
              let m = tinyModel ()
              let targets = [ Maximise.Channel("0", 2); Maximise.Channel("4", 1); Maximise.Class 2 ]
              let values = Generator(11L).Normal(0.0, 1.0, ScalarType.Float64, 3, 3, 6, 6).ToArray<float>()
              // Wrap shares the array, so changing values changes the input the objective sees.
              let x = Tensor.Wrap(values, [| 3; 3; 6; 6 |])
              let _, grad = Maximise.objective m targets x
              let total () = Maximise.objective m targets x |> fst |> Array.sum
              let eps = 1e-6
              let numeric =
                  Array.init values.Length (fun j ->
                      let saved = values[j]
                      values[j] <- saved + eps
                      let plus = total ()
                      values[j] <- saved - eps
                      let minus = total ()
                      values[j] <- saved
                      (plus - minus) / (2.0 * eps))
              // Central differences in float64 at eps 1e-6: truncation ~1e-12, rounding ~1e-10 per element.
              closeTo64 1e-7 1e-6 "d objective / d input" numeric (grad.ToArray<float>())
              Expect.isTrue (grad.ToArray<float>() |> Array.exists (fun g -> abs g > 1e-3)) "a gradient that moves"
              Expect.isTrue (m.Parameters() |> Seq.forall _.RequiresGrad) "parameters train again afterwards"
              Expect.isTrue (m.Parameters() |> Seq.forall (fun p -> isNull p.Grad)) "and took no gradient"
          }
          test "on ResNet-20 the optimised input raises its target far above noise and real images" {
              let targets = [ Maximise.Class 3; Maximise.Channel("layer3.2.conv2", 5) ]
              let settings = { Maximise.defaults with Steps = 48 }
              let run seed = maximise { settings with Seed = seed } targets
              let results = run 0
              let images = AnalyzeModelService.normalised (firstImages 100) mean std
              let batch = Tensor.Wrap(images, [| 100; 3; 32; 32 |], Device.Cpu)
              for t, r in List.zip targets results do
                  let real = Maximise.objective model.Value (List.replicate 100 t) batch |> fst
                  let realMean = Array.average real
                  let spread = sqrt (real |> Array.averageBy (fun v -> (v - realMean) ** 2.0))
                  // Measured at 48 steps: class 3 logit 5.9 (noise) -> about 70 (real mean 2.3, max 19.4); layer3.2.conv2
                  // channel 5: 0.20 -> about 1.2 (real mean 0.11, max 0.38). The margins asked here are well inside.
                  Expect.isGreaterThan
                      r.Activation
                      (realMean + 5.0 * spread)
                      $"{r.Target}: 5 standard deviations above real images' mean"
                  Expect.isGreaterThan r.Activation (Array.max real) $"{r.Target}: above every one of 100 real images"
                  Expect.isGreaterThan r.Activation (3.0 * r.SeedActivation) $"{r.Target}: 3 times the seed noise's"
              let again = run 0
              Expect.equal (again |> List.map _.Image) (results |> List.map _.Image) "the same seed, the same images"
              let other = run 1
              Expect.notEqual (other.Head.Image) results.Head.Image "another seed, another image"
          } ]

[<Tests>]
let tests = testList "model views" [ confusionTests; mapsTests; maximiseTests ]
