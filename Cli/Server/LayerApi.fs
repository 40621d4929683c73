/// The HTTP API over the CKA layer index (`hybrid serve`): an ASP.NET Core minimal API on a loopback address by default,
/// answering JSON from the catalog through the existing search and compare code, with a response cache, and indexing
/// uploaded models (POST /models). Errors are JSON `{"error": "..."}`: 400 for bad parameters, ids that are not plain
/// names (path traversal) and unreadable uploads, 404 for ids the index does not hold, 413 and 415 for uploads too
/// large or of an unknown format.
module Hybrid.Cli.Server.LayerApi

open System
open System.Net
open System.Threading.Tasks
open Microsoft.AspNetCore.Builder
open Microsoft.AspNetCore.Hosting
open Microsoft.AspNetCore.Http
open Microsoft.AspNetCore.Routing
open Microsoft.Extensions.Logging
open Hybrid.Analysis
open Hybrid.Cli.Server.ApiError

/// How a server is set up.
type ServeOptions =
    {
        /// The catalog file holding the CKA index; it must exist.
        Db: string
        /// An IP address to listen on (127.0.0.1: this machine only).
        Host: string
        /// 0: a free port chosen by the system (see address).
        Port: int
        Cache: IResponseCache
        /// How long a cached answer is served.
        CacheTtl: TimeSpan
        Device: Hybrid.Core.Gpu.Device
        /// The probe set uploads are indexed on unless they name one of the catalog's (None: the catalog's only one).
        Probe: ProbeSet.Probe option
        /// The largest model file POST /models takes.
        MaxUploadBytes: int64
    }

/// The most hits one search may ask for.
let MaxK = 1000

/// The indexed (model, version) rows of a model, or 404.
let private indexedModel (catalog: ICatalog) (model: string) (version: string) =
    match Catalog.ckaModels catalog |> List.filter (fun m -> m.Model = model && m.Version = version) with
    | [] -> fail 404 $"{model}/{version} is not in the CKA index"
    | rows -> rows

let private query (request: HttpRequest) (name: string) =
    match request.Query.TryGetValue name with
    | true, v when v.Count > 0 -> Some(string v)
    | _ -> None

let private parsed (request: HttpRequest) (name: string) (parse: string -> bool * 'T) (expected: string) =
    query request name
    |> Option.map (fun text ->
        match parse text with
        | true, v -> v
        | _ -> fail 400 $"{name}={text}: {expected}")

let private invariant = Globalization.CultureInfo.InvariantCulture

let private parseFloat (text: string) = Double.TryParse(text, Globalization.NumberStyles.Float, invariant)

let private probeOf (request: HttpRequest) = query request "probe" |> Option.map (id "probe")

let private models (db: string) =
    use catalog = LayerSearch.openIndex db
    Json.serialize {| Models = Catalog.ckaModels catalog |}

let private layers (db: string) (request: HttpRequest) (model: string) (version: string) =
    use catalog = LayerSearch.openIndex db
    indexedModel catalog model version |> ignore
    let m = LayerSearch.load catalog model (Some version) (probeOf request)
    Json.serialize {| Probe = m.Probe; Model = m.Model; Version = m.Version; Layers = List.map fst m.Layers |}

let private search (o: ServeOptions) (request: HttpRequest) (model: string) (version: string) (layer: string) =
    let k = parsed request "k" Int32.TryParse "a whole number" |> Option.defaultValue LayerSearch.DefaultK
    if k < 1 || k > MaxK then
        fail 400 $"k={k}: between 1 and {MaxK}"
    let minAccuracy = parsed request "minAccuracy" parseFloat "a number"
    match minAccuracy with
    | Some a when not (a >= 0.0 && a <= 1.0) -> fail 400 $"minAccuracy={a}: between 0 and 1"
    | _ -> ()
    let includeSelf = parsed request "includeSelf" Boolean.TryParse "true or false" |> Option.defaultValue false
    use catalog = LayerSearch.openIndex o.Db
    indexedModel catalog model version |> ignore
    let probe = probeOf request
    let own = LayerSearch.load catalog model (Some version) probe
    if not (own.Layers |> List.exists (fun (l, _) -> l.Layer = layer)) then
        fail 404 $"{model}/{version} has no indexed layer {layer}"
    let q =
        { LayerSearch.query model [ layer ] with
            Version = Some version
            Probe = Some own.Probe
            K = k
            IncludeSelf = includeSelf
            MinAccuracy = minAccuracy
            LayerType = query request "layerType" |> Option.map (id "layerType")
            TrainedOn = query request "trainedOn" |> Option.map (id "trainedOn") }
    let hits = (LayerSearch.search o.Device catalog q).Head
    let matched =
        [ for m, v in hits.Results |> List.map (fun h -> h.Model, h.Version) |> List.distinct ->
              (m, v), LayerSearch.load catalog m (Some v) (Some own.Probe) ]
    let structures =
        [ for (m, v), other in matched ->
              {| Model = m
                 Version = v
                 Structure =
                  StructuralDiff.compare
                      $"{model}/{version}"
                      (List.map fst own.Layers)
                      $"{m}/{v}"
                      (List.map fst other.Layers) |} ]
    let rescored =
        query request "kernel"
        |> Option.map (fun name ->
            let sigma =
                parsed request "sigmaFrac" parseFloat "a number" |> Option.defaultValue CkaScore.DefaultSigmaFraction
            let encoding (layers: LayerSearch.IndexedLayers) (name: string) =
                layers.Layers |> List.find (fun (l, _) -> l.Layer = name) |> snd
            let others = dict matched
            LayerRescore.rescore o.Device (LayerRescore.kernel name sigma) (encoding own layer) hits.Results (fun h ->
                encoding others[(h.Model, h.Version)] h.Layer))
    Json.serialize
        {| Probe = hits.Probe
           Model = hits.Model
           Version = hits.Version
           Layer = hits.Layer
           Results = hits.Results
           Structures = structures
           Rescored = rescored |}

let private compare (db: string) (request: HttpRequest) =
    let side (name: string) =
        match query request name with
        | None -> fail 400 $"name two models: /compare?a=MODEL/VERSION&b=MODEL/VERSION ({name} is missing)"
        | Some text ->
            match text.Split('/', 2) with
            | [| model; version |] -> id name model, id name version
            | _ -> id name text, ""
    let (modelA, versionA), (modelB, versionB) = side "a", side "b"
    use catalog = LayerSearch.openIndex db
    let known (model: string) (version: string) =
        let rows = Catalog.ckaModels catalog |> List.filter (fun m -> m.Model = model)
        if rows.IsEmpty || (version <> "" && not (rows |> List.exists (fun m -> m.Version = version))) then
            fail 404 $"""{model}{(if version = "" then "" else "/" + version)} is not in the CKA index"""
        if version = "" then model else $"{model}/{version}"
    let c = LayerCompare.compare catalog (known modelA versionA) (known modelB versionB) (probeOf request)
    Json.serialize c

/// The catalog's generation, the first part of every cache key: each server start and each upload begins a new one,
/// so that no answer computed over an older catalog is served (a shared Redis may hold another server's answers).
type private Generation() =
    let mutable current = Guid.NewGuid().ToString "N"
    member _.Current = current
    member _.Next() = current <- Guid.NewGuid().ToString "N"

let private errorBody (message: string) = Json.serialize {| Error = message |}

let private write (context: HttpContext) (status: int) (cache: string) (body: string) =
    context.Response.StatusCode <- status
    context.Response.Headers["X-Cache"] <- cache
    context.Response.ContentType <- "application/json; charset=utf-8"
    context.Response.WriteAsync body

/// Answers a request with compute's JSON body: when cacheable, from the cache if it holds the request (header X-Cache:
/// hit), else computed and, when it succeeds, cached (X-Cache: miss); otherwise always computed (X-Cache: off). Errors
/// are not cached.
let private respond
    (o: ServeOptions)
    (generation: Generation)
    (cacheable: bool)
    (compute: HttpRequest -> string)
    (context: HttpContext)
    : Task =
    let request = context.Request
    let key = generation.Current + ":" + request.Path.ToString() + request.QueryString.ToString()
    task {
        let! cached = if cacheable then o.Cache.TryGetAsync key else Task.FromResult None
        let status, body, cache =
            match cached with
            | Some body -> 200, body, "hit"
            | None ->
                try
                    let body = compute request
                    if cacheable then
                        o.Cache.Set(key, body, o.CacheTtl)
                    200, body, (if cacheable then "miss" else "off")
                with
                | ApiError(status, message) -> status, errorBody message, "miss"
                | :? Hybrid.Core.Nn.InputException as e -> 400, errorBody e.Message, "miss"
        do! write context status cache body
    }
    :> Task

/// The probe set an upload is indexed on: the one named by ?probe= (read again as the catalog records it), else the
/// server's --probe, else the catalog's only one.
let private uploadProbe (o: ServeOptions) (catalog: ICatalog) (request: HttpRequest) =
    let recorded = Catalog.ckaProbes catalog
    match probeOf request, o.Probe with
    | Some name, Some p when p.Row.Id = name -> p
    | Some name, _ ->
        match recorded |> List.tryFind (fun p -> p.Id = name) with
        | Some row -> ProbeSet.ofRow row
        | None -> fail 404 $"probe {name} is not in the catalog"
    | None, Some p -> p
    | None, None ->
        match recorded with
        | [ row ] -> ProbeSet.ofRow row
        | [] ->
            fail 400 "no probe set: start the server with --probe SPEC, or index a model with hybrid cka index first"
        | rows ->
            fail
                400
                $"""name the probe set with ?probe= (the catalog has {rows |> List.map _.Id |> String.concat ", "})"""

/// Indexes an uploaded model file under ?name= and ?version= with its optional ?accuracy=, ?trainedOn= and ?arch=.
let private indexUpload (o: ServeOptions) (request: HttpRequest) (upload: ModelUpload.Upload) =
    let name =
        query request "name"
        |> Option.defaultWith (fun () -> fail 400 "name the model: POST /models?name=NAME[&version=VERSION]")
    let accuracy = parsed request "accuracy" parseFloat "a number"
    match accuracy with
    | Some a when not (a >= 0.0 && a <= 1.0) -> fail 400 $"accuracy={a}: between 0 and 1"
    | _ -> ()
    use catalog = LayerSearch.openIndex o.Db
    let probe = uploadProbe o catalog request
    let m =
        { LayerIndex.ModelToIndex.Path = upload.Path
          LayerIndex.ModelToIndex.Name = name
          LayerIndex.ModelToIndex.Version = query request "version" |> Option.defaultValue LayerIndex.DefaultVersion
          LayerIndex.ModelToIndex.Arch = query request "arch" |> Option.map (id "arch")
          LayerIndex.ModelToIndex.Accuracy = accuracy
          LayerIndex.ModelToIndex.TrainedOn = query request "trainedOn" |> Option.map (id "trainedOn") }
    let r = LayerIndex.indexFrom o.Device catalog probe LayerCapture.everyLayer $"upload:{upload.Name}" m
    Json.serialize
        {| Probe = probe.Row.Id
           Model = r.Model
           Version = r.Version
           Network = r.Network
           Layers = r.Layers
           Skipped = r.Skipped.Length
           Source = r.Source
           Seconds = r.Seconds |}

/// POST /models: receives a model (see ModelUpload), indexes it (201 with what was stored) and begins a new cache
/// generation. The temporary folder goes whatever happens; error messages name the upload, not that folder.
let private upload
    (o: ServeOptions)
    (generation: Generation)
    (index: (unit -> string) -> string)
    (context: HttpContext)
    =
    task {
        let dir = IO.Directory.CreateTempSubdirectory("hybrid-upload-").FullName
        try
            let! status, body =
                task {
                    try
                        let! file = ModelUpload.receive context dir o.MaxUploadBytes
                        let body = index (fun () -> indexUpload o context.Request file)
                        generation.Next()
                        return 201, body
                    with
                    | ApiError(status, message) -> return status, errorBody message
                    | :? Hybrid.Core.Nn.InputException as e ->
                        return 400, errorBody (e.Message.Replace(dir + string IO.Path.DirectorySeparatorChar, ""))
                }
            do! write context status "off" body
        finally
            IO.Directory.Delete(dir, true)
    }
    :> Task

let private route (values: RouteValueDictionary) (name: string) = id name (string values[name])

/// The server, built and not yet started: bound to o.Host:o.Port, quiet (no request logging).
let build (o: ServeOptions) =
    (LayerSearch.openIndex o.Db).Dispose()
    let address =
        match IPAddress.TryParse o.Host with
        | true, a -> a
        | _ -> Input.fail "serve: --host %s is not an IP address (127.0.0.1 for this machine only)" o.Host
    if o.Port < 0 || o.Port > 65535 then
        Input.fail "serve: --port %d is not a TCP port" o.Port
    let builder = WebApplication.CreateSlimBuilder()
    builder.Logging.ClearProviders() |> ignore
    builder.WebHost.ConfigureKestrel(fun k -> k.Listen(address, o.Port)) |> ignore
    let app = builder.Build()
    let generation = Generation()
    let respond = respond o generation
    let get (pattern: string) (compute: HttpRequest -> string) =
        app.MapGet(pattern, RequestDelegate(respond true compute)) |> ignore
    // A GPU runs one search at a time; the host kernels keep their state per call.
    let gate = obj ()
    let device (f: unit -> string) = if o.Device.IsHost then f () else lock gate f
    // Health is the server's state now, never a cached answer.
    app.MapGet(
        "/health",
        RequestDelegate(
            respond false (fun _ ->
                Json.serialize
                    {| Status = "ok"
                       Db = o.Db
                       Cache = o.Cache.Name
                       Device = string o.Device
                       Probe = o.Probe |> Option.map _.Row.Id |})
        )
    )
    |> ignore
    get "/models" (fun _ -> models o.Db)
    get "/models/{model}/{version}/layers" (fun r ->
        layers o.Db r (route r.RouteValues "model") (route r.RouteValues "version"))
    get "/compare" (fun r -> compare o.Db r)
    app.MapPost("/models", RequestDelegate(upload o generation device)) |> ignore
    WebPage.map app
    get "/{model}/{version}/{layer}/search" (fun r ->
        let v = r.RouteValues
        let model, version, layer = route v "model", route v "version", route v "layer"
        device (fun () -> search o r model version layer))
    app.MapFallback(
        RequestDelegate(fun context -> respond false (fun r -> fail 404 $"no endpoint {r.Method} {r.Path}") context)
    )
    |> ignore
    app

/// The address a started server listens on (http://HOST:PORT), with the port the system chose for port 0.
let address (app: WebApplication) = Seq.head app.Urls
