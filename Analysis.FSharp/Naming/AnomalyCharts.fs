/// The pictures `hybrid anomaly train` writes beside the classifier, as pages that open offline (plotly.js inlined):
/// the confusion matrix of the out-of-fold predictions and the models' embeddings projected on their two principal
/// axes, coloured by class.
module Hybrid.Analysis.Naming.AnomalyCharts

open System.IO
open Plotly.NET

let private page (path: string) (chart: GenericChart) =
    chart
    |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.Full))
    |> GenericChart.toEmbeddedHTML
    |> fun html -> File.WriteAllText(path, html)

/// Writes the heatmap of counts (true class by row, predicted class by column) to path.
let confusion (path: string) (classes: string[]) (truth: int[]) (predicted: int[]) =
    let counts = Array2D.zeroCreate classes.Length classes.Length
    Array.iter2 (fun t p -> counts[t, p] <- counts[t, p] + 1) truth predicted
    let z = [ for t in 0 .. classes.Length - 1 -> [ for p in 0 .. classes.Length - 1 -> counts[t, p] ] ]
    let side = max 500 (min 2400 (200 + 18 * classes.Length))
    Chart.Heatmap(zData = z, X = classes, Y = classes)
    |> Chart.withTitle $"Out-of-fold confusion matrix ({truth.Length} models)"
    |> Chart.withXAxisStyle (TitleText = "predicted")
    |> Chart.withYAxisStyle (TitleText = "declared")
    |> Chart.withSize (Width = side + 200, Height = side)
    |> page path

/// The first two principal axes of the rows, by power iteration on the covariance with a fixed start (deterministic).
let principalAxes (rows: float[][]) =
    let d = rows[0].Length
    let n = float rows.Length
    let mean = Array.init d (fun j -> (rows |> Array.sumBy (fun r -> r[j])) / n)
    let centred = rows |> Array.map (fun r -> Array.init d (fun j -> r[j] - mean[j]))
    let times (v: float[]) =
        let projections = centred |> Array.map (fun r -> Array.fold2 (fun s a b -> s + a * b) 0.0 r v)
        Array.init d (fun j -> Array.fold2 (fun s (r: float[]) p -> s + r[j] * p) 0.0 centred projections)
    let normalised (v: float[]) =
        let norm = sqrt (Array.sumBy (fun x -> x * x) v)
        if norm > 0.0 then Array.map (fun x -> x / norm) v else v
    let orthogonal (basis: float[] list) (v: float[]) =
        basis
        |> List.fold
            (fun (v: float[]) b ->
                let dot = Array.fold2 (fun s x y -> s + x * y) 0.0 v b in Array.map2 (fun x y -> x - dot * y) v b)
            v
    let axis basis =
        let mutable v = normalised (orthogonal basis (Array.init d (fun j -> 1.0 + float j / float d)))
        for _ in 1..100 do
            v <- normalised (orthogonal basis (times v))
        v
    let first = axis []
    let second = axis [ first ]
    centred
    |> Array.map (fun r ->
        Array.fold2 (fun s a b -> s + a * b) 0.0 r first, Array.fold2 (fun s a b -> s + a * b) 0.0 r second)

/// Writes the scatter of the embeddings on their two principal axes, one trace per class, model names on hover.
let projection (path: string) (classes: string[]) (names: string[]) (targets: int[]) (embeddings: float[][]) =
    let points = principalAxes embeddings
    [ for c in 0 .. classes.Length - 1 do
          let rows =
              [| for i in 0 .. targets.Length - 1 do
                     if targets[i] = c then
                         i |]
          if rows.Length > 0 then
              Chart.Point(
                  xy = (rows |> Array.map (fun i -> points[i])),
                  Name = classes[c],
                  MultiText = (rows |> Array.map (fun i -> names[i]))
              ) ]
    |> Chart.combine
    |> Chart.withTitle $"Classifier embeddings, first two principal axes ({names.Length} models)"
    |> Chart.withSize (Width = 1000, Height = 750)
    |> page path
