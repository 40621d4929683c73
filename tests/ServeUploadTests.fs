/// `POST /models` on a server over a copy of the served catalog: the real ResNet-20 uploaded as a raw safetensors body,
/// as multipart PyTorch checkpoints (zip and legacy) and as its ONNX graph is stored exactly as `hybrid cka index`
/// stores the same file from disk, on the server's probe set, a named one or the catalog's only one; oversized, empty,
/// corrupt, truncated, hostile, unknown-operator and unknown-format uploads are JSON 4xx errors that name no server path
/// and leave the catalog as it was.
module Hybrid.Tests.ServeUploadTests

open System
open System.IO
open System.Net.Http
open Expecto
open Hybrid.Analysis
open Hybrid.Cli.Server
open Hybrid.Tests.ServeTests

/// A server over a fresh copy of the served catalog (the index's connection is closed, so the file is complete).
let private withCopy (configure: LayerApi.ServeOptions -> LayerApi.ServeOptions) (f: Running -> string -> unit) =
    let dir = Directory.CreateTempSubdirectory("hybrid-upload-test-").FullName
    try
        let copy = Path.Combine(dir, "hybrid.db")
        File.Copy(db (), copy)
        use server = new Running(copy, new MemoryResponseCache(10_000_000L), configure)
        f server copy
    finally
        Directory.Delete(dir, true)

/// POSTs content with `Expect: 100-continue` (as curl does for bodies over 1 MB): a server that refuses the upload by its
/// Content-Length answers before the body is sent, rather than closing a connection the client is still writing to.
let private post (server: Running) (url: string) (content: HttpContent) =
    use request = new HttpRequestMessage(HttpMethod.Post, url, Content = content)
    request.Headers.ExpectContinue <- true
    use response = server.Client.SendAsync(request).Result
    let body = response.Content.ReadAsStringAsync().Result
    Expect.equal (string response.Content.Headers.ContentType.MediaType) "application/json" $"POST {url}: content type"
    int response.StatusCode, body

let private raw (bytes: byte[]) = new ByteArrayContent(bytes) :> HttpContent

let private multipart (bytes: byte[]) (fileName: string) =
    let form = new MultipartFormDataContent()
    form.Add(new ByteArrayContent(bytes), "model", fileName)
    form :> HttpContent

let private modelFile (name: string) = File.ReadAllBytes(sharedFile $"models/cifar10-resnet20/{name}")

let private legacyCheckpoint () = File.ReadAllBytes(sharedFile "models/cifar10-resnet20/resnet20-12fca82f.th")

/// The stored layers and encodings of model/1 in the catalog at db.
let private stored (db: string) (model: string) =
    use catalog = Catalog.openOrCreate db
    LayerSearch.load catalog model (Some "1") None

/// model's stored rows equal those of indexed, the same file indexed from disk on the same probe set.
let private sameAs (indexed: string) (db: string) (model: string) (source: string) =
    let expected, actual = stored db indexed, stored db model
    Expect.equal actual.Probe expected.Probe $"{model}: the probe set"
    let shape (l: CkaLayerRow) = l.Layer, l.LayerType, List.ofArray l.OutputShape, l.Parameters, l.Accuracy
    Expect.equal
        [ for l, _ in actual.Layers -> shape l ]
        [ for l, _ in expected.Layers -> shape l ]
        $"{model}: the layers cka index stored"
    for (l, a), (_, e) in List.zip actual.Layers expected.Layers do
        Expect.equal l.Source source $"{model} {l.Layer}: the source names the upload"
        for i in 0 .. e.Length - 1 do
            // The same weights through the same capture on the same device: equal up to float32 rounding.
            if abs (a[i] - e[i]) > 1e-6f + 1e-5f * abs e[i] then
                failtestf "%s %s: encoding[%d] %g, cka index stored %g (abs 1e-6, rel 1e-5)" model l.Layer i a[i] e[i]

/// model's stored rows equal resnet20's (indexed by the tests from model.safetensors on the same probe set).
let private sameAsIndexed = sameAs "resnet20"

let private indexed =
    test "raw safetensors, multipart zip and legacy checkpoints are indexed as cka index indexes the file" {
        let probeId = probe.Value.Row.Id
        withCopy (fun o -> { o with Probe = Some probe.Value }) (fun server copy ->
            let before = json (ok server "/models")
            let status, body = post server "/models?name=up-raw&accuracy=0.8103" (raw (modelFile "model.safetensors"))
            Expect.equal status 201 $"raw safetensors: status (body {body})"
            let answer = json body
            Expect.equal (answer.GetProperty("probe").GetString()) probeId "indexed on the server's probe set"
            Expect.equal (answer.GetProperty("model").GetString()) "up-raw" "the name"
            Expect.equal
                (answer.GetProperty("network").GetString())
                "cifar-resnet20"
                "the zoo architecture the weights fit"
            sameAsIndexed copy "up-raw" "upload:upload"
            let listed = json (ok server "/models")
            Expect.equal
                (listed.GetProperty("models").GetArrayLength())
                (before.GetProperty("models").GetArrayLength() + 1)
                "the listing after the upload holds it (not the cached one from before)"
            // A stage's output is also its last block's, so a layer that is a block's own output has a single match.
            let hits = json (ok server "/up-raw/1/layer2.0.conv1/search?k=1")
            let top = hits.GetProperty("results").Item 0
            Expect.equal
                (top.GetProperty("model").GetString(), top.GetProperty("layer").GetString())
                ("resnet20", "layer2.0.conv1")
                "the same weights' layer is the best match"
            Expect.floatClose
                { absolute = 1e-5; relative = 0.0 }
                (top.GetProperty("score").GetDouble())
                1.0
                "at score 1")
        withCopy id (fun server copy ->
            let status, body =
                post
                    server
                    $"/models?name=up-legacy&probe={probeId}&accuracy=0.8103"
                    (multipart (legacyCheckpoint ()) "resnet20.th")
            Expect.equal status 201 $"legacy checkpoint, named probe set: status (body {body})"
            sameAsIndexed copy "up-legacy" "upload:resnet20.th"
            let status, body =
                post server "/models?name=up-zip&accuracy=0.8103" (multipart (modelFile "model.pt") "model.pt")
            Expect.equal status 201 $"zip checkpoint, the catalog's only probe set: status (body {body})"
            Expect.equal ((json body).GetProperty("probe").GetString()) probeId "the catalog's probe set"
            sameAsIndexed copy "up-zip" "upload:model.pt")
        withCopy (fun o -> { o with Probe = Some probe.Value }) (fun server copy ->
            let status, body = post server "/models?name=up-onnx" (multipart (modelFile "model.onnx") "model.onnx")
            Expect.equal status 201 $"ONNX graph: status (body {body})"
            Expect.equal ((json body).GetProperty("network").GetString()) "ONNX graph" "run as a graph"
            // layer2's output: the last ReLU of the stage's last block; in the module tree, layer2.2 and layer2.
            let hits = json (ok server "/up-onnx/1/layer2.layer2.2.Relu_1/search?k=2")
            let results = hits.GetProperty("results")
            let found = [ for h in results.EnumerateArray() -> h.GetProperty("layer").GetString() ] |> set
            Expect.equal found (set [ "layer2.2"; "layer2" ]) "the module outputs it equals"
            for h in results.EnumerateArray() do
                Expect.equal (h.GetProperty("model").GetString()) "resnet20" "from the safetensors index"
                Expect.floatClose { absolute = 1e-5; relative = 0.0 } (h.GetProperty("score").GetDouble()) 1.0 "at 1"
            let indexFromDisk () =
                use catalog = Catalog.openOrCreate copy
                let onDisk =
                    { LayerIndex.ModelToIndex.Path = sharedFile "models/cifar10-resnet20/model.onnx"
                      LayerIndex.ModelToIndex.Name = "disk-onnx"
                      LayerIndex.ModelToIndex.Version = "1"
                      LayerIndex.ModelToIndex.Arch = None
                      LayerIndex.ModelToIndex.Accuracy = None
                      LayerIndex.ModelToIndex.TrainedOn = None }
                LayerIndex.indexModel Device.Cpu catalog probe.Value LayerCapture.everyLayer onDisk |> ignore
            indexFromDisk ()
            sameAs "disk-onnx" copy "up-onnx" "upload:model.onnx")
    }

let private refused =
    test
        "oversized, empty, corrupt, truncated, hostile and unknown uploads are JSON 4xx errors; the catalog is unchanged" {
        let safetensors = modelFile "model.safetensors"
        let zip = modelFile "model.pt"
        let half (bytes: byte[]) = Array.sub bytes 0 (bytes.Length / 2)
        let badHeader = Array.copy safetensors
        Text.Encoding.ASCII.GetBytes("{\"x\": [1, 2").CopyTo(badHeader, 8)
        let noise = Array.zeroCreate<byte> 4096
        Random(7).NextBytes noise
        noise[0] <- 0x13uy
        let unknownOp = File.ReadAllBytes(Path.Combine(repoRoot, "tests", "golden", "onnx_invalid", "unknown_op.onnx"))
        let hostile (name: string) = File.ReadAllBytes(sharedFile $"fixtures/hostile/{name}")
        let pwned = "/tmp/hybrid-pwned"
        let textOnly = new MultipartFormDataContent()
        textOnly.Add(new StringContent("a note"), "note")
        withCopy (fun o -> { o with MaxUploadBytes = 100_000L }) (fun server _ ->
            for content in [ raw safetensors; multipart safetensors "model.safetensors" ] do
                let status, body = post server "/models?name=big" content
                Expect.equal status 413 $"over the limit: status (body {body})"
                Expect.stringContains ((json body).GetProperty("error").GetString()) "100000 bytes" "names the limit")
        withCopy id (fun server copy ->
            let models () =
                use catalog = Catalog.openOrCreate copy
                Catalog.ckaModels catalog
            let before = models ()
            for what, url, content, status, says in
                [ "empty", "/models?name=x", raw [||], 400, "empty"
                  "noise", "/models?name=x", raw noise, 415, "unknown format"
                  "truncated ONNX", "/models?name=x", raw (half (modelFile "model.onnx")), 400, "upload.onnx"
                  "unknown ONNX operator",
                  "/models?name=x",
                  raw unknownOp,
                  400,
                  "operator 'FancyNorm' is not supported"
                  "truncated safetensors", "/models?name=x", raw (half safetensors), 400, "upload.safetensors"
                  "corrupt safetensors header", "/models?name=x", raw badHeader, 400, "upload.safetensors"
                  "truncated zip", "/models?name=x", multipart (half zip) "model.pt", 400, "upload.pt"
                  "truncated legacy", "/models?name=x", raw (half (legacyCheckpoint ())), 400, "upload.pt"
                  "hostile zip", "/models?name=x", raw (hostile "os_system.pt"), 400, "posix.system"
                  "hostile legacy", "/models?name=x", raw (hostile "os_system_legacy.pt"), 400, "posix.system"
                  "no name", "/models", raw safetensors, 400, "name the model"
                  "a path as name", "/models?name=..%2Fetc", raw safetensors, 400, "'../etc'"
                  "bad accuracy", "/models?name=x&accuracy=2", raw safetensors, 400, "accuracy=2"
                  "unknown probe", "/models?name=x&probe=nosuch", raw safetensors, 404, "probe nosuch"
                  "a multipart form without a file", "/models?name=x", textOnly :> HttpContent, 400, "holds no file"
                  "a url-encoded form",
                  "/models?name=x",
                  new FormUrlEncodedContent([ Collections.Generic.KeyValuePair("a", "b") ]) :> HttpContent,
                  415,
                  "unknown format" ] do
                let actual, body = post server url content
                Expect.equal actual status $"{what}: status (body {body})"
                let error = (json body).GetProperty("error").GetString()
                Expect.stringContains error says $"{what}: the error says why"
                Expect.isFalse (error.Contains "hybrid-upload-") $"{what}: no server path in the error"
            Expect.isFalse (File.Exists pwned) $"{pwned} was never created: nothing in an upload runs"
            Expect.equal (models ()) before "the catalog is unchanged")
    }

[<Tests>]
let tests = testList "serve upload" [ indexed; refused ]
