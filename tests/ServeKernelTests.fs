/// RBF and debiased CKA recomputed for a search's hits from the stored encodings (`?kernel=rbf|debiased`): Core.Gpu's
/// Cka.FromEncodings against the CKA fixture of ../shared/fixtures/kernels (scikit-learn / PyTorch definitions, values
/// no one here computed), and the search endpoint's recomputed values for ResNet-20's stages against the same CKA of
/// PyTorch's own activations of those stages (resnet20_reference.safetensors, the test probe's 20 images).
module Hybrid.Tests.ServeKernelTests

open System
open Expecto
open Hybrid.Core.Gpu
open Hybrid.Cli.Server
open Hybrid.Tests.ServeTests

// The encodings are float32: an entry carries a relative rounding of 6e-8, and CKA moves by about as much times the
// few-hundred-term sums it enters, so 1e-5 absolute against the fixture's float64 values. Against PyTorch's activations
// our own forward pass adds its float32 differences (1e-6 relative), so 1e-4 absolute there.
let private fixtureTol = 1e-5
let private activationTol = 1e-4

let private fromEncodings =
    testList
        "Cka.FromEncodings"
        [ for device in [ Device.Reference; Device.Cpu ] ->
              test $"{device.Name}: the fixture's linear, RBF and debiased CKA of X and Y from their encodings" {
                  let ex = CkaReferenceTests.expected.Value
                  let layer name =
                      let values, _ = CkaReferenceTests.activations name
                      Hybrid.Analysis.Cka.encoding device (Activations.Of(values, ex.N))
                  let x, y = layer "X", layer "Y"
                  let cka options = Cka.FromEncodings(device, ReadOnlySpan x, ReadOnlySpan y, options)
                  let rbf = CkaOptions(Kernel = CkaKernel.Rbf, SigmaFraction = ex.SigmaFraction)
                  CkaReferenceTests.near fixtureTol "linear_cka_xy" ex.LinearXY (cka (CkaOptions()))
                  CkaReferenceTests.near fixtureTol "rbf_cka_xy" ex.RbfXY (cka rbf)
                  CkaReferenceTests.near
                      fixtureTol
                      "debiased_linear_cka_xy"
                      ex.DebiasedXY
                      (cka (CkaOptions(Debiased = true)))
              } ]

/// CKA under options of PyTorch's activations of two ResNet-20 stages on the first 20 test images (the test probe).
let private pytorchCka (options: CkaOptions) (a: string) (b: string) =
    use fixture = SafetensorsFile.Open(sharedFile "fixtures/models/resnet20_reference.safetensors")
    let rows = 20
    let activations name =
        let all = fixture.ReadFloat32 $"act_first100.{name}"
        Activations.Of(Array.sub all 0 (all.Length / 100 * rows), rows)
    Cka.Score(Device.Reference, activations a, activations b, options)

let private endpoint =
    test "search ?kernel=rbf|debiased|linear recomputes the hits' CKA as PyTorch's activations give it" {
        withServer (new MemoryResponseCache(10_000_000L)) (fun server ->
            let stages = [ "conv1"; "layer1"; "layer2"; "layer3" ]
            for kernel, options in
                [ "rbf", CkaOptions(Kernel = CkaKernel.Rbf, SigmaFraction = 0.8)
                  "rbf&sigmaFrac=0.5", CkaOptions(Kernel = CkaKernel.Rbf, SigmaFraction = 0.5)
                  "debiased", CkaOptions(Debiased = true)
                  "linear", CkaOptions() ] do
                let url = $"/resnet20/1/layer1/search?k=1000&includeSelf=true&kernel={kernel}"
                let answer = json (ok server url)
                let rescored = answer.GetProperty "rescored"
                let hits = [ for h in rescored.GetProperty("hits").EnumerateArray() -> h ]
                let results = [ for r in answer.GetProperty("results").EnumerateArray() -> r ]
                Expect.equal hits.Length results.Length $"{url}: every hit recomputed"
                for h, r in List.zip hits results do
                    Expect.equal
                        (h.GetProperty("layer").GetString())
                        (r.GetProperty("layer").GetString())
                        $"{url}: in the hits' order"
                    Expect.equal
                        (h.GetProperty("linear").GetDouble())
                        (r.GetProperty("score").GetDouble())
                        $"{url}: beside the linear score"
                    if kernel = "linear" then
                        // Recomputed in float64 from the encodings vs their float32 inner product.
                        CkaReferenceTests.near
                            1e-6
                            $"{url} {r}: linear again"
                            (r.GetProperty("score").GetDouble())
                            (h.GetProperty("cka").GetDouble())
                for stage in stages do
                    let hit =
                        hits
                        |> List.find (fun h ->
                            h.GetProperty("model").GetString() = "resnet20"
                            && h.GetProperty("layer").GetString() = stage)
                    CkaReferenceTests.near
                        activationTol
                        $"{url}: CKA(layer1, {stage}) vs PyTorch's activations"
                        (pytorchCka options "layer1" stage)
                        (hit.GetProperty("cka").GetDouble())
            let plain = json (ok server "/resnet20/1/layer1/search")
            Expect.equal
                (plain.GetProperty("rescored").ValueKind)
                Text.Json.JsonValueKind.Null
                "not recomputed unless asked"
            for url in
                [ "/resnet20/1/layer1/search?kernel=cosine"
                  "/resnet20/1/layer1/search?kernel=rbf&sigmaFrac=-1"
                  "/resnet20/1/layer1/search?kernel=rbf&sigmaFrac=wide" ] do
                let status, body, _ = server.Get url
                Expect.equal status 400 $"{url}: status (body {body})"
                Expect.isNotEmpty ((json body).GetProperty("error").GetString()) $"{url}: the error says why")
    }

[<Tests>]
let tests = testList "serve kernels" [ fromEncodings; endpoint ]
