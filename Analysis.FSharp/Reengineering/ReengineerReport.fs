/// The result of a re-engineering run: the record `hybrid reengineer --json` prints and `report.json` holds, and
/// `report.html` with its charts (weight ratio and validation accuracy per epoch, weights kept per layer).
module Hybrid.Analysis.Reengineering.ReengineerReport

open System.Globalization
open System.IO
open Plotly.NET
open Hybrid.Analysis
open Hybrid.Analysis.Reengineering.MaskTraining
open Hybrid.Analysis.Reengineering.Measurements

/// Target-problem accuracy on the test part: the original scored SeaM's way and fairly, and the re-engineered model.
type Accuracy = { OriginalSeam: float; OriginalFair: float; Reengineered: float }

/// Multiplications for one input over the masked layers and the head.
type Flops = { Dense: int64; Sparse: int64 }

/// Median inference seconds of the re-engineered model at batch 1 and 16, dense and on sparse kernels.
type Times = { DenseB1: float; SparseB1: float; DenseB16: float; SparseB16: float }

/// The split of the labelled file (images per part, seed) and the target problem's images in each part.
type SplitReport = { Train: int; Validation: int; Test: int; Seed: int64; Problem: int list }

type ReengineerResult =
    {
        Model: string
        Arch: string
        Dataset: string
        /// The target problem's output classes, in the head's order ("rest" last for a binary problem).
        Target: string list
        Split: SplitReport
        Schedule: string
        LrMask: float
        LrHead: float
        Alpha: float
        /// The epoch SeaM's rule kept (epochs counted from 1, as in `epochs`), and the original's validation accuracy it
        /// was held against.
        SelectedEpoch: int
        OriginalValidationAccuracy: float
        /// Share of the original's weights and biases kept.
        WeightsKept: float
        Accuracy: Accuracy
        Flops: Flops
        TimeS: Times
        Layers: LayerKept list
        Epochs: EpochReport list
        Out: string
    }

let private percent (x: float) = (100.0 * x).ToString("0.00", CultureInfo.InvariantCulture) + "%"

let private epochChart (r: ReengineerResult) =
    let xs = r.Epochs |> List.map _.Epoch
    [ Chart.Line(x = xs, y = (r.Epochs |> List.map _.WeightRatio), Name = "weight ratio")
      Chart.Line(x = xs, y = (r.Epochs |> List.map _.ValidationAccuracy), Name = "validation accuracy")
      Chart.Line(
          x = [ 0; max 0 (xs |> List.max) ],
          y = [ r.OriginalValidationAccuracy; r.OriginalValidationAccuracy ],
          Name = "original (validation)"
      ) ]
    |> Chart.combine
    |> Chart.withTitle "Weight ratio and validation accuracy per epoch"
    |> Chart.withXAxisStyle (TitleText = "epoch")
    |> Chart.withSize (900, 480)

let private layerChart (r: ReengineerResult) =
    Chart.Column(
        values = (r.Layers |> List.map (fun l -> float l.Kept / float l.Weights)),
        Keys = (r.Layers |> List.map _.Path)
    )
    |> Chart.withTitle "Weights kept per layer"
    |> Chart.withYAxisStyle (TitleText = "share kept")
    |> Chart.withSize (900, 480)

/// The run in measure / value rows, as report.html and the command's table show it.
let summary (r: ReengineerResult) =
    [ [ "model"; $"{r.Model} ({r.Arch})" ]
      [ "dataset"; r.Dataset ]
      [ "target"; String.concat ", " r.Target ]
      [ "split (train, validation, test; seed)"
        $"{r.Split.Train}, {r.Split.Validation}, {r.Split.Test}; {r.Split.Seed}" ]
      [ "schedule, lr_mask, lr_head, alpha"; $"{r.Schedule}, {r.LrMask}, {r.LrHead}, {r.Alpha}" ]
      [ "selected epoch"; string r.SelectedEpoch ]
      [ "weights kept"; percent r.WeightsKept ]
      [ "test accuracy: original (SeaM's scoring)"; percent r.Accuracy.OriginalSeam ]
      [ "test accuracy: original (fair scoring)"; percent r.Accuracy.OriginalFair ]
      [ "test accuracy: re-engineered"; percent r.Accuracy.Reengineered ]
      [ "multiplications: dense, sparse"; $"{r.Flops.Dense:N0}, {r.Flops.Sparse:N0}" ]
      [ "inference batch 1: dense, sparse (ms)"; $"{1000.0 * r.TimeS.DenseB1:F2}, {1000.0 * r.TimeS.SparseB1:F2}" ]
      [ "inference batch 16: dense, sparse (ms)"; $"{1000.0 * r.TimeS.DenseB16:F2}, {1000.0 * r.TimeS.SparseB16:F2}" ] ]

/// The HTML page of a run, with plotly.js inlined so it opens offline.
let html (r: ReengineerResult) =
    let chart c =
        c
        |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.Full))
        |> GenericChart.toChartHTML
    $"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Re-engineering report</title>
<style>body{{font-family:sans-serif;margin:1.5em}} table{{border-collapse:collapse;font-size:0.9em}} td,th{{border:1px solid #ccc;padding:2px 6px}}</style>
{HtmlPage.plotlyScript.Value}
</head><body>
<h1>Re-engineering report</h1>
{HtmlPage.table [ "measure"; "value" ] (summary r)}
{chart (epochChart r)}
{chart (layerChart r)}
<p>Files: <a href="report.json">report.json</a>, masks.safetensors, model.safetensors, model.onnx.</p>
</body></html>
"""

/// Writes report.json and report.html into the run's folder.
let write (dir: string) (r: ReengineerResult) =
    File.WriteAllText(Path.Combine(dir, "report.json"), Json.serialize r)
    File.WriteAllText(Path.Combine(dir, "report.html"), html r)
