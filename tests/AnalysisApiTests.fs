/// The model-analysis endpoints of `hybrid serve` on a loopback port: ResNet-20 indexed on 20 CIFAR-10 test images,
/// the server given the test file with ImageNet normalisation. Each answer equals the library's own view of the same
/// images (PNG bytes included), a cached answer equals the computed one, and bad ids and parameters are JSON 4xx.
module Hybrid.Tests.AnalysisApiTests

open System
open System.IO
open System.Net.Http
open System.Text.Json
open Expecto
open Hybrid.Analysis
open Hybrid.Cli.Server
open Hybrid.Tests.CifarResnet20


/// ResNet-20 in a CKA index (20 probe images, every module), in a folder removed when the tests exit.
let private db =
    lazy
        (let dir = Directory.CreateTempSubdirectory("hybrid-analysis-api-").FullName
         AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> Directory.Delete(dir, true))
         let db = Path.Combine(dir, "hybrid.db")
         let probe = ProbeSet.load (cifar ()) 0 20 mean std
         let model =
             { LayerIndex.ModelToIndex.Path = weights ()
               LayerIndex.ModelToIndex.Name = "resnet20"
               LayerIndex.ModelToIndex.Version = "1"
               LayerIndex.ModelToIndex.Arch = None
               LayerIndex.ModelToIndex.Accuracy = Some 0.8103
               LayerIndex.ModelToIndex.TrainedOn = Some "cifar10" }
         LayerIndex.run Device.Cpu db probe LayerCapture.everyLayer [ model ] (fun _ _ _ -> ()) |> ignore
         db)

/// Runs f with a started server (the analysis endpoints registered, on the dataset when given) and a client.
let private withServer (dataset: AnalysisApi.Dataset option) (f: HttpClient -> unit) =
    let options: LayerApi.ServeOptions =
        { Db = db.Value
          Host = "127.0.0.1"
          Port = 0
          Cache = new MemoryResponseCache(50_000_000L)
          CacheTtl = TimeSpan.FromMinutes 10.0
          Device = Device.Cpu
          Probe = None
          MaxUploadBytes = 1L <<< 20 }
    let app = LayerApi.build options
    AnalysisApi.register app options dataset
    app.StartAsync().Wait()
    try
        use client = new HttpClient(BaseAddress = Uri(LayerApi.address app))
        f client
    finally
        app.StopAsync().Wait()
        (app :> IAsyncDisposable).DisposeAsync().AsTask().Wait()
        options.Cache.Dispose()

let private cifarDataset () =
    Some { AnalysisApi.Dataset.Spec = cifar (); AnalysisApi.Dataset.Mean = mean; AnalysisApi.Dataset.Std = std }

/// Status, content type, body bytes and headers of a GET.
let private get (client: HttpClient) (url: string) =
    use response = client.GetAsync(url).Result
    let body = response.Content.ReadAsByteArrayAsync().Result
    let header (name: string) =
        match response.Headers.TryGetValues name with
        | true, v -> Seq.head v
        | _ -> ""
    int response.StatusCode, string response.Content.Headers.ContentType.MediaType, body, header

let private okPng (client: HttpClient) (url: string) =
    let status, kind, body, header = get client url
    Expect.equal status 200 $"{url}: status ({Text.Encoding.UTF8.GetString body})"
    Expect.equal kind "image/png" $"{url}: content type"
    body, header

let private okJson (client: HttpClient) (url: string) =
    let status, kind, body, _ = get client url
    Expect.equal status 200 $"{url}: status ({Text.Encoding.UTF8.GetString body})"
    Expect.equal kind "application/json" $"{url}: content type"
    JsonDocument.Parse(body).RootElement


[<Tests>]
let tests =
    testList
        "analysis api"
        [ test "confusion: the library's matrix and a cell's contact sheet, cached alike" {
              withServer (cifarDataset ()) (fun client ->
                  let images = firstImages 100
                  let expected =
                      ConfusionView.compute
                          Device.Cpu
                          (Networks.ZooModel("resnet20", model.Value))
                          "resnet20"
                          images
                          mean
                          std
                          100
                          3
                          (fun _ _ -> ())
                  let answer = okJson client "/analysis/resnet20/1/confusion?count=100&k=3"
                  let matrix =
                      [| for row in answer.GetProperty("matrix").EnumerateArray() ->
                             [| for v in row.EnumerateArray() -> v.GetInt32() |] |]
                  Expect.equal matrix expected.Matrix "the library's matrix"
                  let reference =
                      use fixture = SafetensorsFile.Open(sharedFile "fixtures/models/resnet20_reference.safetensors")
                      fixture.ReadInt64 "pred_all"
                  Expect.equal
                      (Array.sum (Array.init 10 (fun c -> matrix[c][c])))
                      (Seq.init 100 id |> Seq.filter (fun i -> reference[i] = images.Labels[i]) |> Seq.length)
                      "the diagonal counts PyTorch's correct predictions"
                  let cell = expected.Cells |> List.find (fun c -> c.Truth = 3 && c.Predicted = 3)
                  let url = "/analysis/resnet20/1/confusion/3/3.png?count=100&k=3"
                  let first, header = okPng client url
                  Expect.equal first (Picture.png (ConfusionView.sheet images cell)) "the library's contact sheet"
                  Expect.equal (header "X-Cache") "miss" "computed"
                  let again, header = okPng client url
                  Expect.equal (header "X-Cache") "hit" "then cached"
                  Expect.equal again first "the cached PNG is the computed one")
          }
          test "maps and maximisation: the library's pictures" {
              withServer (cifarDataset ()) (fun client ->
                  let maps = okJson client "/analysis/resnet20/1/maps/layer2?image=3&channels=0,7"
                  let channels =
                      [ for c in maps.GetProperty("channels").EnumerateArray() -> c.GetProperty("channel").GetInt32() ]
                  Expect.equal channels [ 0; 7 ] "the channels asked for"
                  let one = ImageRun.slice "test" (cifar ()) (firstImages 4) 3 1
                  let input = AnalyzeModelService.normalised one mean std
                  let expected =
                      ActivationMaps.compute Device.Cpu model.Value "layer2" [ 7 ] [| 3; 32; 32 |] input 3 [] 0
                  let body, _ = okPng client "/analysis/resnet20/1/maps/layer2/7.png?image=3"
                  let picture = Picture.ofPlanes 3 32 32 one.Images
                  Expect.equal body (Picture.png (ActivationMaps.panel 128 picture expected 0)) "the library's panel"
                  let settings = { Maximise.defaults with Steps = 6; Seed = 2 }
                  let result = maximise settings [ Maximise.Class 5 ]
                  let _, header = okPng client "/analysis/resnet20/1/maximise/class/5.png?steps=6&seed=2"
                  let activation = Double.Parse(header "X-Activation", Globalization.CultureInfo.InvariantCulture)
                  Expect.equal activation result.Head.Activation "the library's activation"
                  let _, header = okPng client "/analysis/resnet20/1/maximise/layer3.0.conv1/4.png?steps=3"
                  Expect.isNonEmpty (header "X-Seed-Activation") "a channel target")
          }
          test "unknown ids, bad parameters and path traversal are JSON 4xx" {
              withServer (cifarDataset ()) (fun client ->
                  for url, status, fragment in
                      [ "/analysis/resnet99/1/confusion?count=10", 404, "not in the CKA index"
                        "/analysis/resnet20/1/confusion?count=0", 400, "count=0"
                        "/analysis/resnet20/1/confusion?count=10&k=x", 400, "k=x"
                        "/analysis/resnet20/1/maps/layer9/0.png", 400, "layer9"
                        "/analysis/resnet20/1/maps/layer1/16.png", 400, "channel 16 is out of range"
                        "/analysis/resnet20/1/maximise/class/10.png?steps=1", 400, "class 10 is out of range"
                        "/analysis/resnet20/1/maximise/class/1.png?steps=100000", 400, "steps=100000"
                        "/analysis/..%2F..%2Fetc/1/confusion", 400, "model"
                        "/analysis/resnet20/1/confusion/0/9.png?count=1", 404, "no image of class 0" ] do
                      let code, kind, body, _ = get client url
                      Expect.equal code status $"{url}: status"
                      Expect.equal kind "application/json" $"{url}: a JSON error"
                      let message = JsonDocument.Parse(body).RootElement.GetProperty("error").GetString()
                      Expect.stringContains message fragment $"{url}: names the problem")
          }
          test "without --dataset the views say so" {
              withServer None (fun client ->
                  let code, _, body, _ = get client "/analysis/resnet20/1/confusion"
                  Expect.equal code 400 "status"
                  Expect.stringContains (Text.Encoding.UTF8.GetString body) "without --dataset" "the message")
          } ]
