/// A structure report over a set of models, written as one folder: `metrics.csv` (one row per model), `layers.csv`
/// (one row per layer), `charts/ID.json` (each chart's Plotly figure), `report.md` (tables and links to the charts)
/// and `index.html` (every chart, interactive, with plotly.js inlined once so the page opens offline). The folder is
/// built beside the target and moved into place at the end, so a failure never leaves half a report.
module Hybrid.Analysis.Report

open System
open System.Globalization
open System.IO
open System.Text
open Hybrid.Core.Nn
open Plotly.NET
open Hybrid.Analysis.Structure
open Hybrid.Analysis.Charts

/// The columns of `layers.csv`, in order (ALGORITHMS.md section 3).
let layerColumns =
    [ "Layer Name"
      "Layer Type"
      "Input Shape"
      "Output Shape"
      "Block"
      "Parameters"
      "Model ID"
      "Base Model Name"
      "Task" ]

/// The columns of `metrics.csv`, in order.
let metricColumns =
    [ "Model ID"
      "Base Model Name"
      "Task"
      "Layer Count"
      "Unique Layer Types"
      "Block Count"
      "Parameters"
      "Mean Nesting Level"
      "Median Nesting Level" ]

/// One CSV field as RFC 4180 writes it: quoted, with quotes doubled, when it holds a comma, a quote or a line break.
let csvField (text: string) =
    if text.IndexOfAny [| ','; '"'; '\r'; '\n' |] >= 0 then "\"" + text.Replace("\"", "\"\"") + "\"" else text

/// One CSV line (CRLF-terminated) of fields, quoted where needed.
let csvLine (fields: string list) = (fields |> List.map csvField |> String.concat ",") + "\r\n"

let private invariant (x: float) = x.ToString("0.###", CultureInfo.InvariantCulture)

let private metricFields (m: ModelMetrics) =
    [ m.Id
      m.BaseName
      m.Task
      string m.Layers
      string m.UniqueLayerTypes
      string m.Blocks
      string m.Parameters
      invariant m.MeanNesting
      invariant m.MedianNesting ]

let private writeCsv (path: string) (columns: string list) (rows: string list seq) =
    use writer = new StreamWriter(path, false, UTF8Encoding false)
    writer.Write(csvLine columns)
    for r in rows do
        writer.Write(csvLine r)

let private layerFields (r: LayerRow) =
    [ r.LayerName
      r.LayerType
      r.InputShape
      r.OutputShape
      r.Block
      string r.Parameters
      r.ModelId
      r.BaseModelName
      r.Task ]

let private version = Reflection.Assembly.GetExecutingAssembly().GetName().Version

let private mdCell (text: string) = text.Replace("|", "\\|").Replace("\r", " ").Replace("\n", " ")

let private mdTable (columns: string list) (rows: string list list) =
    let line cells = "| " + (cells |> List.map mdCell |> String.concat " | ") + " |"
    [ yield line columns; yield line (columns |> List.map (fun _ -> "---")); for r in rows -> line r ]
    |> String.concat "\n"

let private count (n: int64) = n.ToString("N0", CultureInfo.InvariantCulture)

/// Per scope: models, and the means of layers, unique layer types, blocks, parameters and mean nesting.
let private summaryRows (models: ReportModel list) =
    [ for scope, members in scopes models ->
          let ms = members |> List.map metrics
          let mean (f: ModelMetrics -> float) = ms |> List.averageBy f
          [ scope
            string ms.Length
            invariant (mean (fun m -> float m.Layers))
            invariant (mean (fun m -> float m.UniqueLayerTypes))
            invariant (mean (fun m -> float m.Blocks))
            count (int64 (mean (fun m -> float m.Parameters)))
            invariant (mean _.MeanNesting) ] ]

let private summaryColumns =
    [ "scope"
      "models"
      "mean layers"
      "mean unique layer types"
      "mean blocks"
      "mean parameters"
      "mean nesting level" ]

let private markdown (models: ReportModel list) (charts: ReportChart list) =
    let all = models |> List.map metrics
    let total = distribution models
    let layers = total |> List.sumBy snd
    let tasks = models |> List.map _.Task |> List.distinct
    [ "# Structure report"
      $"Written by Hybrid {version.Major}.{version.Minor}.{version.Build} on {DateTime.UtcNow:``yyyy-MM-dd HH:mm``} UTC from {models.Length} models ({count (int64 layers)} layers) in {tasks.Length} tasks. Interactive charts: [index.html](index.html)."
      "Files: [metrics.csv](metrics.csv) (one row per model), [layers.csv](layers.csv) (one row per layer), `charts/*.json` (Plotly figures)."
      "A block is a distinct module-path prefix ending at a component whose name contains `block`, `layer`, `encoder` or `decoder`; the nesting level of a layer is the number of dots in its module path (means and medians over the layers that have one)."
      "## Summary per scope"
      mdTable summaryColumns (summaryRows models)
      "## Layer types (overall, top 20)"
      mdTable
          [ "layer type"; "layers"; "share" ]
          [ for t, n in List.truncate 20 total ->
                [ t; count (int64 n); (float n / float layers).ToString("P1", CultureInfo.InvariantCulture) ] ]
      "## Metrics per model"
      mdTable metricColumns (all |> List.map metricFields)
      "## Charts"
      yield!
          charts
          |> List.groupBy _.Scope
          |> List.map (fun (scope, cs) ->
              $"### {scope}\n\n"
              + (cs
                 |> List.map (fun c -> $"- [{c.Title}](index.html#{c.Id}) ([figure JSON](charts/{c.Id}.json))")
                 |> String.concat "\n")) ]
    |> String.concat "\n\n"

let private page (models: ReportModel list) (charts: ReportChart list) =
    let sections =
        charts
        |> List.groupBy _.Scope
        |> List.map (fun (scope, cs) ->
            let body =
                cs
                |> List.map (fun c ->
                    let chart =
                        c.Chart
                        |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.Full))
                    $"<section class=\"chart\" id=\"{c.Id}\">{GenericChart.toChartHTML chart}<p><a href=\"charts/{c.Id}.json\">figure JSON</a></p></section>")
            $"<h2>{HtmlPage.encode scope}</h2>\n" + String.concat "\n" body)
    let nav =
        charts
        |> List.map _.Scope
        |> List.distinct
        |> List.map (fun s -> $"<a href=\"#{(charts |> List.find (fun c -> c.Scope = s)).Id}\">{HtmlPage.encode s}</a>")
        |> String.concat " · "
    $"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Structure report</title>
<style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse;font-size:0.9em}} td,th{{border:1px solid #ccc;padding:2px 6px}} section.chart{{margin:1em 0}}</style>
{HtmlPage.plotlyScript.Value}
</head><body>
<h1>Structure report</h1>
<p>{models.Length} models. Files: <a href="report.md">report.md</a>, <a href="metrics.csv">metrics.csv</a>, <a href="layers.csv">layers.csv</a>.</p>
<p>Scopes: {nav}</p>
{HtmlPage.table summaryColumns (summaryRows models)}
{String.concat "\n" sections}
</body></html>
"""

let private writeAll (dir: string) (models: ReportModel list) =
    Directory.CreateDirectory(Path.Combine(dir, "charts")) |> ignore
    writeCsv (Path.Combine(dir, "metrics.csv")) metricColumns (models |> Seq.map (metrics >> metricFields))
    writeCsv (Path.Combine(dir, "layers.csv")) layerColumns (models |> Seq.collect layerRows |> Seq.map layerFields)
    let charts = Charts.all models
    for c in charts do
        File.WriteAllText(Path.Combine(dir, "charts", c.Id + ".json"), GenericChart.toFigureJson c.Chart)
    File.WriteAllText(Path.Combine(dir, "report.md"), markdown models charts + "\n")
    File.WriteAllText(Path.Combine(dir, "index.html"), page models charts)

/// True when a folder looks like an earlier report (which `write` may replace) or is empty.
let private replaceable (dir: string) =
    Seq.isEmpty (Directory.EnumerateFileSystemEntries dir)
    || (File.Exists(Path.Combine(dir, "index.html")) && File.Exists(Path.Combine(dir, "report.md")))

/// Writes the report of `models` into `outDir` and returns the path of its index.html. An existing `outDir` is
/// replaced only when it is empty or an earlier report; any other folder or a file there is refused (InputException).
let write (outDir: string) (models: ReportModel list) : string =
    validate models
    let target = Path.TrimEndingDirectorySeparator(Path.GetFullPath outDir)
    if File.Exists target then
        raise (InputException(outDir, "is a file; the report needs a folder"))
    if Directory.Exists target && not (replaceable target) then
        raise (InputException(outDir, "exists and is not a structure report; choose a new or empty folder"))
    let parent = Path.GetDirectoryName target
    let name = Path.GetFileName target
    Directory.CreateDirectory parent |> ignore
    let staging = Path.Combine(parent, $".{name}.partial-{Guid.NewGuid():N}")
    try
        writeAll staging models
        if Directory.Exists target then
            let old = Path.Combine(parent, $".{name}.old-{Guid.NewGuid():N}")
            Directory.Move(target, old)
            try
                Directory.Move(staging, target)
            with _ ->
                Directory.Move(old, target)
                reraise ()
            Directory.Delete(old, true)
        else
            Directory.Move(staging, target)
    finally
        if Directory.Exists staging then
            Directory.Delete(staging, true)
    Path.Combine(target, "index.html")
