/// `cka compare`: the layer-by-layer linear CKA of two indexed models (from their stored encodings: every pair is the
/// dot product of two unit vectors), each layer's best match, and the structural comparison; written as a CSV matrix
/// and an HTML page with a Plotly heatmap that opens offline.
module Hybrid.Analysis.LayerCompare

open System
open System.Globalization
open System.IO
open Plotly.NET

/// A layer of a and its most similar layer of b.
type BestMatch = { Layer: string; Match: string; Score: float }

type Comparison =
    {
        Probe: string
        /// model/version of each side.
        A: string
        B: string
        LayersA: string list
        LayersB: string list
        /// Cka[i][j]: linear CKA of a's layer i and b's layer j.
        Cka: float[][]
        Best: BestMatch list
        Structure: StructuralDiff.Diff
    }

/// The comparison written to a folder: the files it holds.
type CompareResult = { Comparison: Comparison; Csv: string; Html: string }

/// The dot product of two encodings, accumulated in float64.
let dot (x: float32[]) (y: float32[]) =
    let mutable s = 0.0
    for i in 0 .. x.Length - 1 do
        s <- s + float x[i] * float y[i]
    s

/// Compares a with b (both indexed on a's probe set; names as model or model/version).
let compare (catalog: ICatalog) (a: string) (b: string) (probe: string option) =
    let split (name: string) =
        match name.Split('/', 2) with
        | [| model; version |] -> model, Some version
        | _ -> name, None
    let modelA, versionA = split a
    let modelB, versionB = split b
    let left = LayerSearch.load catalog modelA versionA probe
    let right = LayerSearch.load catalog modelB versionB (Some left.Probe)
    let m = [| for _, x in left.Layers -> [| for _, y in right.Layers -> dot x y |] |]
    let namesB = right.Layers |> List.map (fun (l, _) -> l.Layer)
    { Probe = left.Probe
      A = $"{left.Model}/{left.Version}"
      B = $"{right.Model}/{right.Version}"
      LayersA = left.Layers |> List.map (fun (l, _) -> l.Layer)
      LayersB = namesB
      Cka = m
      Best =
        [ for i, (l, _) in List.indexed left.Layers ->
              let j = Array.IndexOf(m[i], Array.max m[i])
              { Layer = l.Layer; Match = namesB[j]; Score = m[i][j] } ]
      Structure =
        StructuralDiff.compare
            $"{left.Model}/{left.Version}"
            (List.map fst left.Layers)
            $"{right.Model}/{right.Version}"
            (List.map fst right.Layers) }

let private number (x: float) = x.ToString("R", CultureInfo.InvariantCulture)

/// The matrix as CSV: a header of b's layers, then one row per layer of a.
let csv (c: Comparison) =
    Report.csvLine ("layer" :: c.LayersB)
    + String.concat "" [ for i, l in List.indexed c.LayersA -> Report.csvLine (l :: [ for x in c.Cka[i] -> number x ]) ]

/// The Plotly heatmap of the matrix (a's layers down, b's across).
let heatmap (c: Comparison) =
    Chart.Heatmap(zData = c.Cka, X = c.LayersB, Y = c.LayersA, ReverseYAxis = true)
    |> Chart.withColorBarStyle (TitleText = "linear CKA")
    |> Chart.withMarginSize (Left = 180, Bottom = 160)
    |> Chart.withTitle $"Linear CKA, {c.A} (rows) vs {c.B} (columns), probe {c.Probe}"
    |> Chart.withSize (
        max 700 (min 2400 (220 + 12 * c.LayersB.Length)),
        max 500 (min 2400 (220 + 12 * c.LayersA.Length))
    )

/// The page: heatmap, best matches and the structural comparison.
let html (c: Comparison) =
    let chart =
        heatmap c
        |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.Full))
        |> GenericChart.toChartHTML
    let best =
        HtmlPage.table
            [ $"layer of {c.A}"; $"best match in {c.B}"; "CKA" ]
            [ for m in c.Best -> [ m.Layer; m.Match; m.Score.ToString("F4", CultureInfo.InvariantCulture) ] ]
    let stages =
        HtmlPage.table
            [ "stage"; $"parameters {c.A}"; $"parameters {c.B}"; "added"; "removed"; "changed" ]
            [ for s in c.Structure.Stages ->
                  [ s.Stage
                    string s.ParametersA
                    string s.ParametersB
                    string s.Added.Length
                    string s.Removed.Length
                    string s.Changed.Length ] ]
    let summary = c.Structure.Summary |> List.map (fun s -> $"<li>{HtmlPage.encode s}</li>") |> String.concat "\n"
    $"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>CKA {HtmlPage.encode c.A} vs {HtmlPage.encode c.B}</title>
<style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse;font-size:0.9em}} td,th{{border:1px solid #ccc;padding:2px 6px}}</style>
{HtmlPage.plotlyScript.Value}
</head><body>
<h1>{HtmlPage.encode c.A} vs {HtmlPage.encode c.B}</h1>
<p>Probe set {HtmlPage.encode c.Probe}. Files: <a href="cka.csv">cka.csv</a>, <a href="compare.json">compare.json</a>.</p>
<section id="heatmap">{chart}</section>
<h2>Structure</h2>
<ul>{summary}</ul>
{stages}
<h2>Best match of each layer</h2>
{best}
</body></html>
"""

/// Compares a with b in the catalog at db and writes cka.csv, compare.json and index.html to out.
let run (db: string) (a: string) (b: string) (probe: string option) (out: string) =
    let c =
        use catalog = LayerSearch.openIndex db
        compare catalog a b probe
    Directory.CreateDirectory out |> ignore
    let csvPath = Path.Combine(out, "cka.csv")
    let htmlPath = Path.Combine(out, "index.html")
    File.WriteAllText(csvPath, csv c)
    File.WriteAllText(Path.Combine(out, "compare.json"), Json.serialize c)
    File.WriteAllText(htmlPath, html c)
    { Comparison = c; Csv = csvPath; Html = htmlPath }
