/// The charts of a structure report (Plotly.NET), per scope (every model, then each task): the layer-type
/// distribution, heatmaps of layer-type counts per model (raw and log scale), nesting levels per model (mean and
/// median) and box plots of the per-model counts of the ten most frequent layer types.
module Hybrid.Analysis.Charts

open System
open Plotly.NET
open Hybrid.Analysis.Structure

/// One chart of a report: an id usable as a file name and HTML anchor, its scope ("overall" or a task) and title.
type ReportChart = { Id: string; Scope: string; Title: string; Chart: GenericChart }

/// Layer types shown as heatmap columns at most: beyond that the cells get too thin to read.
[<Literal>]
let HeatmapTypes = 40

/// Lower-case letters, digits and single dashes: "text2text-generation" stays, "Image Classification" gives
/// "image-classification".
let slug (text: string) =
    let chars =
        text.ToLowerInvariant() |> Seq.map (fun c -> if Char.IsAsciiLetterOrDigit c then c else '-') |> Array.ofSeq
    let collapsed = String(chars).Split('-', StringSplitOptions.RemoveEmptyEntries) |> String.concat "-"
    if collapsed = "" then "scope" else collapsed

let private height (rows: int) = max 420 (min 2400 (160 + 18 * rows))

/// plotly.js's own defaults as the template: Plotly.NET's default template costs about 0.2 s per chart to serialize,
/// which over a catalog's dozens of scopes dominated the whole report.
let private plainTemplate = Template.init (Layout.init ())

let private styled (title: string) (xTitle: string) (yTitle: string) (chart: GenericChart) =
    title,
    chart
    |> Chart.withTemplate plainTemplate
    |> Chart.withTitle title
    |> Chart.withXAxisStyle (TitleText = xTitle)
    |> Chart.withYAxisStyle (TitleText = yTitle)

let private sized (width: int) (height: int) (title: string, chart: GenericChart) =
    title, chart |> Chart.withSize (Width = width, Height = height)

let private distributionChart (scope: string) (models: ReportModel list) =
    let counts = distribution models
    Chart.Column(values = (counts |> List.map snd), Keys = (counts |> List.map fst))
    |> styled $"Layer types ({scope}, {models.Length} models)" "layer type" "layers"
    |> sized (max 700 (min 2400 (120 + 16 * counts.Length))) 520

let private heatmap (scope: string) (models: ReportModel list) (log: bool) =
    let types = distribution models |> List.truncate HeatmapTypes |> List.map fst
    let z =
        [ for m in models ->
              let counts = typeCounts m
              [ for t in types ->
                    let n = counts |> Map.tryFind t |> Option.defaultValue 0
                    if log then Math.Log10(1.0 + float n) else float n ] ]
    let shown = if types.Length < HeatmapTypes then "" else $", top {HeatmapTypes} types"
    let scale = if log then "log10(1 + layers)" else "layers"
    Chart.Heatmap(zData = z, X = types, Y = (models |> List.map _.Id))
    |> Chart.withColorBarStyle (TitleText = scale)
    |> Chart.withMarginSize (Left = 260)
    |> styled $"Layer types per model, {scale} ({scope}{shown})" "layer type" "model"
    |> sized (max 700 (min 2400 (260 + 16 * types.Length))) (height models.Length)

let private nesting (scope: string) (models: ReportModel list) (statistic: string) (pick: ModelMetrics -> float) =
    let rows = models |> List.map metrics
    Chart.Column(values = (rows |> List.map pick), Keys = (rows |> List.map _.Id))
    |> Chart.withMarginSize (Bottom = 220)
    |> styled
        $"{statistic} nesting level per model ({scope})"
        "model"
        $"{statistic} nesting level (dots in the module path)"
    |> sized (max 700 (min 2400 (160 + 14 * rows.Length))) 520

let private topTypesBox (scope: string) (models: ReportModel list) =
    let types = distribution models |> List.truncate 10 |> List.map fst
    let perModel = models |> List.map typeCounts
    [ for t in types ->
          Chart.BoxPlot(Y = (perModel |> List.map (fun c -> c |> Map.tryFind t |> Option.defaultValue 0)), Name = t) ]
    |> Chart.combine
    |> styled $"Per-model counts of the top {types.Length} layer types ({scope})" "layer type" "layers per model"
    |> sized 900 560

let private charts (id: string) (scope: string) (models: ReportModel list) =
    [ $"{id}-layer-types", distributionChart scope models
      $"{id}-heatmap", heatmap scope models false
      $"{id}-heatmap-log", heatmap scope models true
      $"{id}-nesting-mean", nesting scope models "Mean" _.MeanNesting
      $"{id}-nesting-median", nesting scope models "Median" _.MedianNesting
      $"{id}-top10-box", topTypesBox scope models ]
    |> List.map (fun (chartId, (title, chart)) -> { Id = chartId; Scope = scope; Title = title; Chart = chart })

/// The six charts of one scope, with ids starting with the scope's slug.
let forScope (scope: string) (models: ReportModel list) = charts (slug scope) scope models

/// Every chart of a report: the overall scope first, then each task; scopes whose names give the same slug are told
/// apart by a numeric suffix.
let all (models: ReportModel list) =
    let taken = Collections.Generic.HashSet<string>()
    [ for scope, members in scopes models do
          let unique =
              Seq.initInfinite (fun k -> if k = 0 then slug scope else $"{slug scope}-{k + 1}") |> Seq.find taken.Add
          yield! charts unique scope members ]
