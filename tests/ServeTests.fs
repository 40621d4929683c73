/// `hybrid serve`, the HTTP API over the CKA layer index, started in the test on a free loopback port over the two
/// CIFAR-10 ResNets of ../shared/models indexed on 20 test images: every endpoint's JSON equals the library's own answer (search, compare) serialised,
/// unknown ids, bad parameters and path traversal are JSON 4xx errors, cached and uncached answers are identical, and a
/// bounded load test (8 clients, 2,000 requests) has no errors (its latencies are printed, not asserted).
module Hybrid.Tests.ServeTests

open System
open System.Diagnostics
open System.Net
open System.Net.Http
open System.Text.Json
open System.Threading.Tasks
open Expecto
open Hybrid.Analysis
open Hybrid.Cli.Server

/// A server started on a free loopback port (its options as configure makes them), stopped when disposed.
type Running(db: string, cache: IResponseCache, configure: LayerApi.ServeOptions -> LayerApi.ServeOptions) =
    let app =
        LayerApi.build (
            configure
                { Db = db
                  Host = "127.0.0.1"
                  Port = 0
                  Cache = cache
                  CacheTtl = TimeSpan.FromMinutes 10.0
                  Device = Hybrid.Core.Gpu.Device.Cpu
                  Probe = None
                  MaxUploadBytes = 64L * 1024L * 1024L }
        )
    do app.StartAsync().Wait()
    let client = new HttpClient(BaseAddress = Uri(LayerApi.address app))

    member _.Client = client

    /// Status, body and the X-Cache header of a GET.
    member _.Get(url: string) =
        use response = client.GetAsync(url).Result
        let body = response.Content.ReadAsStringAsync().Result
        let cached =
            match response.Headers.TryGetValues "X-Cache" with
            | true, v -> Seq.head v
            | _ -> ""
        Expect.equal (string response.Content.Headers.ContentType.MediaType) "application/json" $"{url}: content type"
        int response.StatusCode, body, cached

    interface IDisposable with
        member _.Dispose() =
            client.Dispose()
            app.StopAsync().Wait()
            (app :> IAsyncDisposable).DisposeAsync().AsTask().Wait()
            cache.Dispose()

/// The first 20 CIFAR-10 test images, normalised as the ResNets were trained.
let probe =
    lazy
        (let cifar = "cifar10:" + sharedFile "data/cifar10/test_batch.bin"
         ProbeSet.load cifar 0 20 (Some [| 0.485f; 0.456f; 0.406f |]) (Some [| 0.229f; 0.224f; 0.225f |]))

/// ResNet-20 and ResNet-32 indexed (every module) on the first 20 CIFAR-10 test images into the catalog db: n = 20
/// keeps every uncached answer small enough for the load test.
let private indexInto (db: string) =
    let model depth accuracy =
        { LayerIndex.ModelToIndex.Path = sharedFile $"models/cifar10-resnet{depth}/model.safetensors"
          LayerIndex.ModelToIndex.Name = $"resnet{depth}"
          LayerIndex.ModelToIndex.Version = "1"
          LayerIndex.ModelToIndex.Arch = None
          LayerIndex.ModelToIndex.Accuracy = Some accuracy
          LayerIndex.ModelToIndex.TrainedOn = Some "cifar10" }
    LayerIndex.run
        Hybrid.Core.Gpu.Device.Cpu
        db
        probe.Value
        LayerCapture.everyLayer
        [ model 20 0.8103; model 32 0.8256 ]
        (fun _ _ _ -> ())
    |> ignore
    db

/// The SQLite catalog the tests serve, removed when the tests exit.
let private indexed =
    lazy
        (let dir = IO.Directory.CreateTempSubdirectory("hybrid-serve-").FullName
         AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> IO.Directory.Delete(dir, true))
         indexInto (IO.Path.Combine(dir, "hybrid.db")))

let db () = indexed.Value

let withServerOn (db: string) (cache: IResponseCache) (f: Running -> unit) =
    use server = new Running(db, cache, id)
    f server

let withServer cache f = withServerOn (db ()) cache f

let ok (server: Running) (url: string) =
    let status, body, _ = server.Get url
    Expect.equal status 200 $"{url}: status (body {body})"
    body

let json (body: string) = JsonDocument.Parse(body).RootElement

/// The cached requests the comparison and the load test make: each endpoint, with and without parameters.
let urls =
    [ "/models"
      "/models/resnet20/1/layers"
      "/models/resnet32/1/layers"
      "/resnet20/1/layer1/search"
      "/resnet20/1/layer2.0.conv1/search?k=3&includeSelf=true"
      "/resnet32/1/layer3/search?k=10&minAccuracy=0.8"
      "/compare?a=resnet20/1&b=resnet32/1" ]

let private endpointTests =
    testList
        "endpoints"
        [ test "health, models and layers" {
              withServer (new MemoryResponseCache(1_000_000L)) (fun server ->
                  let status, body, cached = server.Get "/health"
                  Expect.equal status 200 "health: status"
                  Expect.equal cached "off" "health is never cached"
                  let health = json body
                  Expect.equal (health.GetProperty("status").GetString()) "ok" "health"
                  Expect.equal (health.GetProperty("cache").GetString()) "memory" "health names the cache"
                  let models =
                      [ for m in (json (ok server "/models")).GetProperty("models").EnumerateArray() ->
                            m.GetProperty("model").GetString(), m.GetProperty("version").GetString() ]
                  Expect.containsAll models [ "resnet20", "1"; "resnet32", "1" ] "both indexed models are listed"
                  let layers = json (ok server "/models/resnet20/1/layers")
                  let expected =
                      use catalog = Catalog.openOrCreate (db ())
                      LayerSearch.load catalog "resnet20" (Some "1") None
                  let names =
                      [ for l in layers.GetProperty("layers").EnumerateArray() -> l.GetProperty("layer").GetString() ]
                  Expect.equal
                      names
                      (expected.Layers |> List.map (fun (l, _) -> l.Layer))
                      "every layer in forward order"
                  Expect.equal (layers.GetProperty("probe").GetString()) expected.Probe "the probe set")
          }
          test "search returns the library's hits and a structural comparison per matched model" {
              withServer (new MemoryResponseCache(1_000_000L)) (fun server ->
                  for layer, k, includeSelf, minAccuracy in
                      [ "layer1", 5, false, None
                        "conv1", 3, true, None
                        "layer3.2.bn2", 7, false, Some 0.82
                        "layer2", 4, false, Some 0.83 ] do
                      let url =
                          $"/resnet20/1/{layer}/search?k={k}&includeSelf={includeSelf}"
                          + (minAccuracy |> Option.map (sprintf "&minAccuracy=%g") |> Option.defaultValue "")
                      let answer = json (ok server url)
                      let expected =
                          use catalog = Catalog.openOrCreate (db ())
                          let q =
                              { LayerSearch.query "resnet20" [ layer ] with
                                  K = k
                                  IncludeSelf = includeSelf
                                  MinAccuracy = minAccuracy }
                          (LayerSearch.search Hybrid.Core.Gpu.Device.Cpu catalog q).Head
                      Expect.equal
                          (answer.GetProperty("results").GetRawText())
                          (Json.serialize expected.Results)
                          $"{url}: the library's hits (model, layer, score, accuracy)"
                      let matched = expected.Results |> List.map (fun h -> h.Model) |> List.distinct
                      let structures = [ for s in answer.GetProperty("structures").EnumerateArray() -> s ]
                      Expect.equal
                          [ for s in structures -> s.GetProperty("model").GetString() ]
                          matched
                          $"{url}: one structural comparison per matched model"
                      for s in structures do
                          Expect.isNonEmpty
                              [ for x in s.GetProperty("structure").GetProperty("summary").EnumerateArray() -> x ]
                              $"{url}: a summary"
                      if includeSelf then
                          let top = answer.GetProperty("results").Item 0
                          Expect.equal (top.GetProperty("layer").GetString()) layer $"{url}: finds itself first"
                          Expect.floatClose
                              { absolute = 1e-5; relative = 0.0 }
                              (top.GetProperty("score").GetDouble())
                              1.0
                              $"{url}: at score 1"
                      if minAccuracy = Some 0.83 then
                          Expect.isEmpty expected.Results $"{url}: no model reaches 0.83")
          }
          test "compare returns the library's CKA matrix and structural diff" {
              withServer (new MemoryResponseCache(1_000_000L)) (fun server ->
                  let body = ok server "/compare?a=resnet20/1&b=resnet32"
                  let expected =
                      use catalog = Catalog.openOrCreate (db ())
                      LayerCompare.compare catalog "resnet20/1" "resnet32" None
                  Expect.equal body (Json.serialize expected) "the comparison, serialised"
                  let answer = json body
                  let cka = answer.GetProperty "cka"
                  Expect.equal (cka.GetArrayLength()) expected.LayersA.Length "rows: layers of a"
                  Expect.equal (cka.Item(0).GetArrayLength()) expected.LayersB.Length "columns: layers of b")
          }
          test "unknown ids, bad parameters and path traversal are JSON 4xx errors" {
              withServer (new MemoryResponseCache(1_000_000L)) (fun server ->
                  for url, status in
                      [ "/models/nosuch/1/layers", 404
                        "/models/resnet20/9/layers", 404
                        "/nosuch/1/conv1/search", 404
                        "/resnet20/1/nosuch/search", 404
                        "/compare?a=resnet20/1&b=nosuch", 404
                        "/compare?a=resnet20/9&b=resnet32", 404
                        "/no/such/endpoint", 404
                        "/resnet20/1/conv1/search?k=0", 400
                        "/resnet20/1/conv1/search?k=-3", 400
                        "/resnet20/1/conv1/search?k=abc", 400
                        "/resnet20/1/conv1/search?k=1001", 400
                        "/resnet20/1/conv1/search?minAccuracy=2", 400
                        "/resnet20/1/conv1/search?minAccuracy=high", 400
                        "/resnet20/1/conv1/search?includeSelf=maybe", 400
                        "/compare?a=resnet20/1", 400
                        "/models/..%2F..%2Fetc/1/layers", 400
                        "/resnet20/1/..%2F..%2Fpasswd/search", 400
                        "/resnet20/..%5C..%5Cwindows/conv1/search", 400
                        "/compare?a=../../etc/passwd&b=resnet32", 400
                        "/compare?a=resnet20/1/../..&b=resnet32", 400 ] do
                      // Twice: an error is never cached.
                      for _ in 1..2 do
                          let actual, body, cached = server.Get url
                          Expect.equal actual status $"{url}: status (body {body})"
                          Expect.notEqual cached "hit" $"{url}: errors are not cached"
                          let error = (json body).GetProperty("error").GetString()
                          Expect.isNotEmpty error $"{url}: the error says why"
                  // Dot segments in the path itself are resolved before routing: they never reach a file or an id.
                  let actual, body, _ = server.Get "/models/resnet20/1/../../../etc/passwd"
                  Expect.equal actual 404 $"dot segments: status (body {body})")
          } ]

let private cacheTests =
    test "cached and uncached answers are identical" {
        withServer (new MemoryResponseCache(10_000_000L)) (fun cached ->
            withServer (new NoResponseCache()) (fun uncached ->
                for url in urls do
                    let status1, first, state1 = cached.Get url
                    let status2, second, state2 = cached.Get url
                    let status3, fresh, state3 = uncached.Get url
                    Expect.equal [ status1; status2; status3 ] [ 200; 200; 200 ] $"{url}: statuses"
                    Expect.equal [ state1; state2; state3 ] [ "miss"; "hit"; "miss" ] $"{url}: cache states"
                    Expect.equal second first $"{url}: the cached answer is the computed one"
                    Expect.equal fresh first $"{url}: the uncached server's answer is the same"))
    }

/// A JSON answer with its indexing times blanked: the two catalogs were filled a moment apart.
let private withoutTimes (body: string) =
    Text.RegularExpressions.Regex.Replace(body, "\"indexed_at\":\"[^\"]*\"", "\"indexed_at\":\"\"")

let private postgresTests =
    test "serve --db on PostgreSQL answers every endpoint as it does over SQLite" {
        let indexed = Npgsql.NpgsqlConnectionStringBuilder(indexInto (freshPostgresDatabase ()))
        // Indexed through the socket by connection string, served over TCP by URI: both spellings of --db.
        let uri = $"postgres://postgres:{postgresPassword}@127.0.0.1:{postgresServer.Value.Port}/{indexed.Database}"
        withServer (new NoResponseCache()) (fun sqlite ->
            withServerOn uri (new NoResponseCache()) (fun pg ->
                for url in urls @ [ "/resnet32/1/conv1/search?k=4&includeSelf=true"; "/nosuch/1/conv1/search" ] do
                    let status1, expected, _ = sqlite.Get url
                    let status2, actual, _ = pg.Get url
                    Expect.equal status2 status1 $"{url}: status"
                    Expect.equal
                        (withoutTimes actual)
                        (withoutTimes expected)
                        $"{url}: the same answer from PostgreSQL"))
    }

/// 8 clients share 2,000 GETs over urls and /health; every one must answer 200. Returns the latencies in milliseconds, sorted.
let private load (server: Running) =
    let clients, requests = 8, 2000
    let latencies = Array.zeroCreate<float> requests
    let errors = Collections.Concurrent.ConcurrentBag<string>()
    let urls = List.toArray ("/health" :: urls)
    // Asynchronous clients, as a browser or a load tool is: a client blocking a pool thread per request would starve
    // the server it measures.
    let client (c: int) =
        task {
            for i in c..clients .. requests - 1 do
                let url = urls[i % urls.Length]
                let watch = Stopwatch.StartNew()
                try
                    use! response = server.Client.GetAsync(url)
                    let! _ = response.Content.ReadAsStringAsync()
                    if response.StatusCode <> HttpStatusCode.OK then
                        errors.Add $"{url}: {response.StatusCode}"
                with e ->
                    errors.Add $"{url}: {e.Message}"
                latencies[i] <- watch.Elapsed.TotalMilliseconds
        }
        :> Task
    Task.WaitAll [| for c in 0 .. clients - 1 -> client c |]
    Expect.isEmpty (List.ofSeq errors) "no request fails"
    Array.sortInPlace latencies
    latencies

let private loadTests =
    test "load: 8 clients, 2,000 requests, no errors, with the memory cache, with Redis and without a cache" {
        let percentile (xs: float[]) (p: float) = xs[min (xs.Length - 1) (int (p * float xs.Length))]
        use redis = new RedisServer.Redis()
        // Redis is up throughout, so an outage line here means requests waited out the cache's timeout.
        let redisLog = Collections.Concurrent.ConcurrentQueue<string>()
        for cache in
            [ new MemoryResponseCache(10_000_000L) :> IResponseCache
              RedisResponseCache.Connect(redis.Endpoint, "hybrid:test:", redisLog.Enqueue)
              new NoResponseCache() ] do
            let name = cache.Name
            withServer cache (fun server ->
                let latencies = load server
                printfn
                    "serve load (8 clients, 2,000 requests, cache %s): p50 %.2f ms, p99 %.2f ms%s"
                    name
                    (percentile latencies 0.50)
                    (percentile latencies 0.99)
                    (if name = "redis" then $", Redis log lines {redisLog.Count}" else ""))
    }

let private cliTests =
    test "hybrid serve: a missing catalog, a host name and a bad port are one-line errors, exit code 1" {
        for args, message in
            [ [ "--db"; "no-such-catalog.db" ], "no-such-catalog.db: no such catalog"
              [ "--db"; db (); "--host"; "localhost" ], "--host localhost is not an IP address"
              [ "--db"; db (); "--port"; "70000" ], "--port 70000 is not a TCP port"
              [ "--db"; db (); "--cache-seconds"; "-1" ], "--cache-seconds -1 must be 0"
              [ "--db"; db (); "--redis"; "127.0.0.1:1" ], "--redis 127.0.0.1:1: cannot connect"
              [ "--db"; db (); "--redis"; "127.0.0.1:1"; "--cache-seconds"; "0" ], "--cache-seconds 0 caches nothing" ] do
            let code, _, err = CliTests.runCli ("serve" :: args)
            Expect.equal code 1 $"serve {args}: exit code (stderr {err})"
            Expect.stringContains err message $"serve {args}: the error"
            Expect.equal (err.Trim().Split('\n').Length) 1 $"serve {args}: one line"
    }

[<Tests>]
let tests = testList "serve" [ endpointTests; cacheTests; postgresTests; loadTests; cliTests ]
