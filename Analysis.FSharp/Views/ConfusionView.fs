/// The confusion view: a classifier's confusion matrix on a dataset with, in every cell, the k images the model was
/// most confident about (the softmax probability of the class it predicted), as a typed result, PNG contact sheets per
/// cell and the matrix as CSV and JSON.
module Hybrid.Analysis.ConfusionView

open System
open System.IO
open Hybrid.Core.Nn.Data

/// Images kept per cell when none is given.
let DefaultK = 8

/// One image of a cell: its index in the dataset and the probability the model gave the class it predicted.
type ConfidentImage = { Index: int; Confidence: float }

/// One non-empty cell of the matrix: images of class Truth that the model called Predicted.
type ConfusionCell =
    {
        Truth: int
        Predicted: int
        Count: int
        /// At most k images, most confident first (ties: lower index first).
        Top: ConfidentImage list
    }

type Confusion =
    {
        Classes: string list
        N: int
        Correct: int
        Accuracy: float
        K: int
        /// Matrix[true class][predicted class].
        Matrix: int[][]
        /// The non-empty cells, row by row.
        Cells: ConfusionCell list
        /// The predicted class of every image, in dataset order.
        Predictions: int[]
    }

/// Softmax of one row of logits in double precision, shifted by the row's maximum so that it cannot overflow.
let private softmax (row: float32[]) =
    let top = Array.max row |> float
    let e = row |> Array.map (fun v -> exp (float v - top))
    let total = Array.sum e
    e |> Array.map (fun v -> v / total)

/// The confusion matrix of network on data (normalised by mean / std when given) with each cell's k most confident
/// images. The network must give one logit per class of the dataset. progress gets (images done, total).
let compute
    (device: Hybrid.Core.Gpu.Device)
    (network: Networks.Network)
    (source: string)
    (data: LabelledImages)
    (mean: float32[] option)
    (std: float32[] option)
    (batch: int)
    (k: int)
    (progress: int -> int -> unit)
    =
    if k < 1 then
        Input.fail "confusion: k = %d; at least 1 image per cell" k
    let classes = data.ClassNames.Count
    let predictions = Array.zeroCreate data.Count
    let confidences = Array.zeroCreate data.Count
    Input.guard source (fun () ->
        let pass = Networks.pass device network data batch
        Networks.forwardAll { pass with Mean = mean; Std = std; Progress = progress } (fun b logits ->
            if logits.Size 1 <> classes then
                Input.fail
                    "%s: the model gives %d class scores and the dataset has %d classes"
                    source
                    (logits.Size 1)
                    classes
            let values = logits.ToArray<float32>()
            for i in 0 .. b.Count - 1 do
                let p = softmax values[i * classes .. (i + 1) * classes - 1]
                // The first maximum on ties, as argmax everywhere else in Hybrid (and torch.argmax).
                let best = Array.IndexOf(p, Array.max p)
                predictions[b.Indices[i]] <- best
                confidences[b.Indices[i]] <- p[best]))
    let matrix = Array.init classes (fun _ -> Array.zeroCreate classes)
    for i in 0 .. data.Count - 1 do
        let truth = int data.Labels[i]
        matrix[truth][predictions[i]] <- matrix[truth][predictions[i]] + 1
    let cells =
        [ for i in 0 .. data.Count - 1 -> (int data.Labels[i], predictions[i]), i ]
        |> List.groupBy fst
        |> List.sortBy fst
        |> List.map (fun ((truth, predicted), members) ->
            { Truth = truth
              Predicted = predicted
              Count = members.Length
              Top =
                members
                |> List.map (fun (_, i) -> { Index = i; Confidence = confidences[i] })
                |> List.sortBy (fun c -> -c.Confidence, c.Index)
                |> List.truncate k })
    let correct = Seq.init classes (fun c -> matrix[c][c]) |> Seq.sum
    { Classes = List.ofSeq data.ClassNames
      N = data.Count
      Correct = correct
      Accuracy = (if data.Count = 0 then 0.0 else float correct / float data.Count)
      K = k
      Matrix = matrix
      Cells = cells
      Predictions = predictions }

/// Pixels per side of a contact-sheet tile: small inputs (CIFAR's 32) are enlarged so that a sheet is readable.
let private tileSide (data: LabelledImages) = max data.Height (min 96 (data.Height * 3))

/// Image i of the dataset as a picture at the given side (the dataset's own pixels, before normalisation).
let thumbnail (data: LabelledImages) (side: int) (i: int) =
    let image = Array.sub data.Images (i * data.ImageSize) data.ImageSize
    Picture.ofPlanes data.Channels data.Height data.Width image |> Picture.resize (side * data.Width / data.Height) side

/// The contact sheet of one cell: its images in a row, most confident first.
let sheet (data: LabelledImages) (cell: ConfusionCell) =
    cell.Top |> List.map (fun c -> thumbnail data (tileSide data) c.Index) |> Picture.grid cell.Top.Length 2

/// The file name of a cell's contact sheet.
let sheetName (cell: ConfusionCell) = $"cell-{cell.Truth}-{cell.Predicted}.png"

/// The matrix as CSV: a header of predicted class names, then one row per true class.
let csv (c: Confusion) =
    let quote (s: string) = "\"" + s.Replace("\"", "\"\"") + "\""
    let header = "true \\ predicted," + String.Join(",", c.Classes |> List.map quote)
    let rows = c.Matrix |> Array.mapi (fun i row -> quote c.Classes[i] + "," + String.Join(",", row))
    String.Join("\n", Array.append [| header |] rows) + "\n"

/// Writes confusion.csv, confusion.json and one contact sheet per non-empty cell (confusion/cell-T-P.png) under dir;
/// returns the sheets' paths relative to dir, cell by cell.
let write (dir: string) (data: LabelledImages) (c: Confusion) =
    let sheets = Path.Combine(dir, "confusion")
    Directory.CreateDirectory sheets |> ignore
    File.WriteAllText(Path.Combine(dir, "confusion.csv"), csv c)
    File.WriteAllText(Path.Combine(dir, "confusion.json"), Json.serialize c)
    [ for cell in c.Cells ->
          Picture.save (Path.Combine(sheets, sheetName cell)) (sheet data cell)
          "confusion/" + sheetName cell ]
