/// `hybrid serve`: the HTTP API over the catalog's CKA layer index, until Ctrl+C.
module Hybrid.Cli.ServeCommand

open System
open Argu
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Server
open Microsoft.Extensions.Hosting

let run (args: ParseResults<ServeArgs>) =
    let seconds = args.GetResult(ServeArgs.Cache_Seconds, defaultValue = Defaults.serve.CacheSeconds)
    if seconds < 0 then
        Input.fail "serve: --cache-seconds %d must be 0 (no cache) or more" seconds
    use cache =
        match args.TryGetResult ServeArgs.Redis with
        | Some _ when seconds = 0 -> Input.fail "serve: --redis caches; --cache-seconds 0 caches nothing"
        | Some endpoint ->
            RedisResponseCache.Connect(endpoint, Defaults.serve.RedisPrefix, eprintfn "%s") :> IResponseCache
        | None when seconds = 0 -> new NoResponseCache()
        | None -> new MemoryResponseCache(Defaults.serve.CacheChars)
    let probe =
        args.TryGetResult ServeArgs.Probe
        |> Option.map (fun spec ->
            let mean, std = ImageRun.normalisation (args.TryGetResult ServeArgs.Mean) (args.TryGetResult ServeArgs.Std)
            ProbeSet.load
                spec
                (args.GetResult(ServeArgs.Probe_First, defaultValue = Defaults.cka.ProbeFirst))
                (args.GetResult(ServeArgs.Probe_Count, defaultValue = Defaults.cka.ProbeCount))
                mean
                std)
    let uploadMb = args.GetResult(ServeArgs.Max_Upload_Mb, defaultValue = Defaults.serve.MaxUploadMb)
    if uploadMb < 1 then
        Input.fail "serve: --max-upload-mb %d must be at least 1" uploadMb
    let options =
        { LayerApi.ServeOptions.Db = args.GetResult(ServeArgs.Db, defaultValue = Defaults.db)
          LayerApi.ServeOptions.Host = args.GetResult(ServeArgs.Host, defaultValue = Defaults.serve.Host)
          LayerApi.ServeOptions.Port = args.GetResult(ServeArgs.Port, defaultValue = Defaults.serve.Port)
          LayerApi.ServeOptions.Cache = cache
          LayerApi.ServeOptions.CacheTtl = TimeSpan.FromSeconds(float seconds)
          LayerApi.ServeOptions.Device = device (args.GetResult(ServeArgs.Device, defaultValue = defaultDevice))
          LayerApi.ServeOptions.Probe = probe
          LayerApi.ServeOptions.MaxUploadBytes = int64 uploadMb * 1024L * 1024L }
    let app = LayerApi.build options
    AnalysisApi.register app options (AnalysisApi.datasetOf args)
    try
        app.Start()
    with :? IO.IOException as e ->
        Input.fail "serve: cannot listen on %s:%d: %s" options.Host options.Port e.Message
    printfn "serving %s on %s (cache: %s); Ctrl+C stops" options.Db (LayerApi.address app) cache.Name
    for p in Option.toList probe do
        printfn
            "POST /models indexes on probe %s: %s, images %s, %s"
            p.Row.Id
            p.Row.Spec
            p.Row.Indices
            p.Row.Preprocessing
    app.WaitForShutdown()
    0
