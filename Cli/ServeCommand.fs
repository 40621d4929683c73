/// `hybrid serve`: the HTTP API over the catalog's CKA layer index, until Ctrl+C.
module Hybrid.Cli.ServeCommand

open System
open Argu
open Hybrid.Cli.Args
open Hybrid.Cli.Server
open Microsoft.Extensions.Hosting

let run (args: ParseResults<ServeArgs>) =
    let seconds = args.GetResult(ServeArgs.Cache_Seconds, defaultValue = Defaults.serve.CacheSeconds)
    if seconds < 0 then
        Hybrid.Analysis.Input.fail "serve: --cache-seconds %d must be 0 (no cache) or more" seconds
    use cache =
        if seconds = 0 then
            new NoResponseCache() :> IResponseCache
        else
            new MemoryResponseCache(Defaults.serve.CacheChars)
    let options =
        { LayerApi.ServeOptions.Db = args.GetResult(ServeArgs.Db, defaultValue = Defaults.db)
          LayerApi.ServeOptions.Host = args.GetResult(ServeArgs.Host, defaultValue = Defaults.serve.Host)
          LayerApi.ServeOptions.Port = args.GetResult(ServeArgs.Port, defaultValue = Defaults.serve.Port)
          LayerApi.ServeOptions.Cache = cache
          LayerApi.ServeOptions.CacheTtl = TimeSpan.FromSeconds(float seconds)
          LayerApi.ServeOptions.Device = device (args.GetResult(ServeArgs.Device, defaultValue = Auto)) }
    let app = LayerApi.build options
    AnalysisApi.register app options (AnalysisApi.datasetOf args)
    try
        app.Start()
    with :? IO.IOException as e ->
        Hybrid.Analysis.Input.fail "serve: cannot listen on %s:%d: %s" options.Host options.Port e.Message
    printfn "serving %s on %s (cache: %s); Ctrl+C stops" options.Db (LayerApi.address app) cache.Name
    app.WaitForShutdown()
    0
