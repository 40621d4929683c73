/// The web page at `/` (Server/index.html, compiled into the program) and the plotly.js it draws with at `/plotly.js`:
/// the copy Plotly.NET carries, the one the reports inline, so the page needs nothing from the network.
module Hybrid.Cli.Server.WebPage

open System.IO
open System.Reflection
open Microsoft.AspNetCore.Builder
open Microsoft.AspNetCore.Http
open Hybrid.Analysis

let private page =
    lazy
        (use stream = Assembly.GetExecutingAssembly().GetManifestResourceStream "index.html"
         use reader = new StreamReader(stream)
         reader.ReadToEnd())

/// The library itself, without the script element the reports wrap it in.
let private plotly =
    lazy
        (let element = HtmlPage.plotlyScript.Value
         let start = element.IndexOf '>' + 1
         element.Substring(start, element.LastIndexOf "</script>" - start))

let private serve (contentType: string) (body: Lazy<string>) =
    RequestDelegate(fun context ->
        context.Response.ContentType <- contentType
        context.Response.Headers.CacheControl <- "max-age=3600"
        context.Response.WriteAsync body.Value)

/// Maps GET / and GET /plotly.js.
let map (app: WebApplication) =
    app.MapGet("/", serve "text/html; charset=utf-8" page) |> ignore
    app.MapGet("/plotly.js", serve "text/javascript; charset=utf-8" plotly) |> ignore
