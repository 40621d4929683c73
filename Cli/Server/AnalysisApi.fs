/// The model-analysis views as HTTP endpoints of `hybrid serve`, for a model of the CKA index (its stored source file)
/// and the dataset the server was started with (--dataset, normalised by --mean / --std):
///   GET /analysis/{model}/{version}/confusion?count=N&k=K                          JSON: matrix, cells, their top k
///   GET /analysis/{model}/{version}/confusion/{truth}/{predicted}.png?count=N&k=K  PNG: a cell's contact sheet
///   GET /analysis/{model}/{version}/maps/{layer}?image=I&channels=1,2             JSON: the maps' channels and ranges
///   GET /analysis/{model}/{version}/maps/{layer}/{channel}.png?image=I            PNG: input | heatmap | overlay
///   GET /analysis/{model}/{version}/maximise/{layer}/{channel}.png?steps=S&seed=N PNG: the maximised input
///   GET /analysis/{model}/{version}/maximise/class/{class}.png?steps=S&seed=N     PNG: the same for a class logit
/// PNG answers carry what they show in headers (X-Activation, X-Seed-Activation for maximisation). Answers are cached
/// (PNG as base64) like every other answer; errors are JSON {"error": "..."}, 400 for bad parameters and plain-name
/// violations, 404 for a model the index does not hold.
module Hybrid.Cli.Server.AnalysisApi

open System
open System.Collections.Concurrent
open System.Globalization
open System.Threading
open System.Threading.Tasks
open Microsoft.AspNetCore.Builder
open Microsoft.AspNetCore.Http
open Argu
open Hybrid.Analysis
open Hybrid.Cli.Args

/// The dataset the views run on.
type Dataset = { Spec: string; Mean: float32[] option; Std: float32[] option }

/// The --dataset, --mean and --std of `hybrid serve`, when a dataset was given.
let datasetOf (args: ParseResults<ServeArgs>) =
    args.TryGetResult ServeArgs.Dataset
    |> Option.map (fun spec ->
        let mean, std = ImageRun.normalisation (args.TryGetResult ServeArgs.Mean) (args.TryGetResult ServeArgs.Std)
        { Spec = spec; Mean = mean; Std = std })

/// The most maximisation steps one request may ask for (each is a forward and a backward pass).
let MaxSteps = 512

exception private Refused of status: int * message: string

let private refuse status message = raise (Refused(status, message))

/// One answer: its bytes, content type and headers.
type private Answer = { Body: byte[]; ContentType: string; Headers: (string * string) list }

let private json (value: 'T) =
    { Body = Text.Encoding.UTF8.GetBytes(Json.serialize value)
      ContentType = "application/json; charset=utf-8"
      Headers = [] }

let private png (picture: Picture.Rgb) headers =
    { Body = Picture.png picture; ContentType = "image/png"; Headers = headers }

let private number (request: HttpRequest) (name: string) (fallback: int) (lo: int) (hi: int) =
    match request.Query.TryGetValue name with
    | true, v when v.Count > 0 ->
        match Int32.TryParse(string v, NumberStyles.Integer, CultureInfo.InvariantCulture) with
        | true, n when n >= lo && n <= hi -> n
        | _ -> refuse 400 $"{name}={v}: a whole number from {lo} to {hi}"
    | _ -> fallback

let private invariant (x: float) = x.ToString("R", CultureInfo.InvariantCulture)

/// register's state: the dataset loaded once, and each model's network loaded on first use.
type private Views(o: LayerApi.ServeOptions, dataset: Dataset option) =
    let data =
        lazy
            (match dataset with
             | Some d -> ImageRun.load d.Spec false
             | None -> refuse 400 "the server was started without --dataset; the analysis views need one")
    let networks = ConcurrentDictionary<string, Networks.Network>()

    member _.Data = data.Value
    member _.Mean = dataset |> Option.bind _.Mean
    member _.Std = dataset |> Option.bind _.Std

    /// The first count images (default all), the dataset's name for errors.
    member v.Images(request: HttpRequest) =
        let all = v.Data
        ImageRun.slice "count" (dataset.Value.Spec) all 0 (number request "count" all.Count 1 all.Count)

    /// The network of an indexed model, loaded from the file it was indexed from.
    member v.Network(model: string, version: string) =
        LayerIndex.checkName "model" model
        LayerIndex.checkName "version" version
        networks.GetOrAdd(
            $"{model}/{version}",
            fun _ ->
                use catalog = LayerSearch.openIndex o.Db
                match Catalog.ckaModels catalog |> List.tryFind (fun m -> m.Model = model && m.Version = version) with
                | None -> refuse 404 $"{model}/{version} is not in the CKA index"
                | Some row ->
                    let network = Networks.load o.Device row.Source None
                    AnalyzeModelService.checkFits o.Device row.Source network v.Data
                    network
        )

    member v.Module(model, version) = AnalyzeModelService.moduleOf $"{model}/{version}" (v.Network(model, version))

    member v.Confusion(request: HttpRequest, model, version) =
        let data = v.Images request
        let k = number request "k" ConfusionView.DefaultK 1 100
        data,
        ConfusionView.compute
            o.Device
            (v.Network(model, version))
            model
            data
            v.Mean
            v.Std
            Evaluate.DefaultBatch
            k
            (fun _ _ -> ())

    member v.Maps(request: HttpRequest, model, version, layer: string, channels: int list) =
        let all = v.Data
        let image = number request "image" 0 0 (all.Count - 1)
        let one = ImageRun.slice "image" dataset.Value.Spec all image 1
        let shape = [| all.Channels; all.Height; all.Width |]
        let input = AnalyzeModelService.normalised one v.Mean v.Std
        let m = v.Module(model, version)
        ActivationMaps.findModule m layer |> ignore
        let maps =
            Input.guard model (fun () ->
                ActivationMaps.compute
                    o.Device
                    m
                    layer
                    channels
                    shape
                    input
                    image
                    (List.ofSeq all.ClassNames)
                    (int one.Labels[0]))
        one, maps

    member v.Maximise(request: HttpRequest, model, version, target: Maximise.Target) =
        let all = v.Data
        let settings =
            { Maximise.defaults with
                Steps = number request "steps" Maximise.defaults.Steps 0 MaxSteps
                Seed = number request "seed" Maximise.defaults.Seed 0 Int32.MaxValue }
        let shape = [| all.Channels; all.Height; all.Width |]
        let m = v.Module(model, version)
        let result =
            Input.guard model (fun () -> Maximise.run o.Device m shape v.Mean v.Std settings [ target ] (fun _ _ -> ()))
            |> List.head
        let pixels = Picture.denormalise v.Mean v.Std all.Channels result.Image
        let picture =
            Picture.ofPlanes all.Channels all.Height all.Width pixels |> Picture.resize (4 * all.Width) (4 * all.Height)
        png
            picture
            [ "X-Activation", invariant result.Activation; "X-Seed-Activation", invariant result.SeedActivation ]

let private route (context: HttpContext) (name: string) = string context.Request.RouteValues[name]

let private channelOf (text: string) =
    match Int32.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture) with
    | true, c -> c
    | _ -> refuse 400 $"channel {text}: a whole number"

/// Answers from the cache when it holds the request, else computes and caches; errors become JSON and are not cached.
/// gate admits one model run at a time (hooks and parameter flags are per module, and a GPU runs one job at a time);
/// requests wait for it without holding a thread.
let private respond
    (o: LayerApi.ServeOptions)
    (gate: SemaphoreSlim)
    (compute: HttpContext -> Answer)
    (context: HttpContext)
    =
    task {
        let request = context.Request
        let key = "analysis:" + request.Path.ToString() + request.QueryString.ToString()
        let! cached = o.Cache.TryGetAsync key
        let! status, answer, state =
            match cached with
            | Some text ->
                let parts = text.Split('\n')
                let answer =
                    { ContentType = parts[0]
                      Headers =
                        parts[1 .. parts.Length - 2]
                        |> Array.map (fun h -> h.Split('\t', 2))
                        |> Array.map (fun h -> h[0], h[1])
                        |> List.ofArray
                      Body = Convert.FromBase64String parts[parts.Length - 1] }
                Task.FromResult(200, answer, "hit")
            | None ->
                task {
                    do! gate.WaitAsync()
                    try
                        try
                            let answer = compute context
                            let headers = answer.Headers |> List.map (fun (k, v) -> $"{k}\t{v}")
                            let text =
                                String.Join(
                                    "\n",
                                    [ answer.ContentType ] @ headers @ [ Convert.ToBase64String answer.Body ]
                                )
                            o.Cache.Set(key, text, o.CacheTtl)
                            return 200, answer, "miss"
                        with
                        | Refused(status, message) -> return status, json {| Error = message |}, "miss"
                        | :? Hybrid.Core.Nn.InputException as e -> return 400, json {| Error = e.Message |}, "miss"
                    finally
                        gate.Release() |> ignore
                }
        context.Response.StatusCode <- status
        context.Response.ContentType <- answer.ContentType
        context.Response.Headers["X-Cache"] <- state
        for k, v in answer.Headers do
            context.Response.Headers[k] <- v
        do! context.Response.Body.WriteAsync(answer.Body, 0, answer.Body.Length)
    }
    :> Task

/// Adds the analysis endpoints to a server LayerApi.build made, before it starts.
let register (app: WebApplication) (o: LayerApi.ServeOptions) (dataset: Dataset option) =
    let views = Views(o, dataset)
    let gate = new SemaphoreSlim(1, 1)
    let get (pattern: string) (compute: HttpContext -> Answer) =
        app.MapGet(pattern, RequestDelegate(respond o gate compute)) |> ignore
    let ids (c: HttpContext) = route c "model", route c "version"
    get "/analysis/{model}/{version}/confusion" (fun c ->
        let model, version = ids c
        let _, confusion = views.Confusion(c.Request, model, version)
        json {| confusion with Predictions = (null: int[]) |})
    get "/analysis/{model}/{version}/confusion/{truth}/{predicted}.png" (fun c ->
        let model, version = ids c
        let truth, predicted = channelOf (route c "truth"), channelOf (route c "predicted")
        let data, confusion = views.Confusion(c.Request, model, version)
        match confusion.Cells |> List.tryFind (fun x -> x.Truth = truth && x.Predicted = predicted) with
        | Some cell -> png (ConfusionView.sheet data cell) [ "X-Count", string cell.Count ]
        | None -> refuse 404 $"no image of class {truth} was predicted as {predicted}")
    get "/analysis/{model}/{version}/maps/{layer}" (fun c ->
        let model, version = ids c
        let channels =
            match c.Request.Query.TryGetValue "channels" with
            | true, v when v.Count > 0 -> (string v).Split(',') |> Array.map channelOf |> List.ofArray
            | _ -> []
        let _, maps = views.Maps(c.Request, model, version, route c "layer", channels)
        json {| maps with Values = (null: float32[][]) |})
    get "/analysis/{model}/{version}/maps/{layer}/{channel}.png" (fun c ->
        let model, version = ids c
        let one, maps = views.Maps(c.Request, model, version, route c "layer", [ channelOf (route c "channel") ])
        let input = Picture.ofPlanes one.Channels one.Height one.Width one.Images
        png (ActivationMaps.panel 128 input maps 0) [ "X-Predicted", maps.Predicted ])
    get "/analysis/{model}/{version}/maximise/class/{class}.png" (fun c ->
        let model, version = ids c
        views.Maximise(c.Request, model, version, Maximise.Class(channelOf (route c "class"))))
    get "/analysis/{model}/{version}/maximise/{layer}/{channel}.png" (fun c ->
        let model, version = ids c
        views.Maximise(c.Request, model, version, Maximise.Channel(route c "layer", channelOf (route c "channel"))))
