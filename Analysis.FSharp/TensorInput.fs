/// The matrices commands take as input: `FILE:TENSOR` from a safetensors file, or a CSV file. A tensor of shape
/// (n, ...) becomes an n-row matrix with its other dimensions flattened per row, as activations of a layer are.
module Hybrid.Analysis.TensorInput

open System
open System.Globalization
open System.IO
open Hybrid.Core.Nn
open Hybrid.Core.Nn.Formats.Safetensors

/// A row-major float64 matrix and where it came from (for messages).
type Matrix =
    { Source: string
      Rows: int
      Columns: int
      Values: float[] }

    /// The values as float32 (activations for CKA are float32).
    member m.Single = Array.map float32 m.Values

/// Splits `FILE:TENSOR` at its last colon; a spec naming an existing file (or a .csv) has no tensor part, so paths
/// containing colons still work.
let splitSpec (spec: string) =
    let colon = spec.LastIndexOf ':'
    if File.Exists spec || spec.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || colon <= 0 then
        spec, None
    else
        spec.Substring(0, colon), Some(spec.Substring(colon + 1))

let private fromShape (source: string) (path: string) (shape: int64[]) (values: float[]) =
    if shape.Length = 0 || shape.[0] = 0L then
        raise (
            InputException(
                path,
                $"{source} has shape {Formats.TensorEntry.FormatShape shape}; a matrix needs at least one row"
            )
        )
    let rows = int shape.[0]
    { Source = source; Rows = rows; Columns = values.Length / rows; Values = values }

/// One tensor of a safetensors file as a matrix; with no name, the file must hold exactly one tensor.
let readSafetensors (path: string) (tensor: string option) =
    use file = SafetensorsFile.Open path
    let name =
        match tensor with
        | Some name when file.Contains name -> name
        | Some name ->
            let names = file.Tensors |> Seq.map (fun t -> t.Name) |> String.concat ", "
            raise (InputException(path, $"no tensor '{name}' (it holds: {names})"))
        | None when file.Tensors.Count = 1 -> file.Tensors.[0].Name
        | None ->
            let names = file.Tensors |> Seq.map (fun t -> t.Name) |> String.concat ", "
            raise (InputException(path, $"holds {file.Tensors.Count} tensors ({names}); name one as {path}:TENSOR"))
    fromShape $"{path}:{name}" path (file.Entry name).Shape (file.ReadFloat64 name)

/// A CSV file of numbers, one row per line, comma-separated; a first line that is not numeric is taken as a header.
let readCsv (path: string) =
    if not (File.Exists path) then
        raise (InputException(path, "file not found"))
    let parse (line: string) =
        line.Split(',')
        |> Array.map (fun cell ->
            match Double.TryParse(cell.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture) with
            | true, v -> Some v
            | _ -> None)
    let lines =
        File.ReadLines path
        |> Seq.mapi (fun i line -> i + 1, line)
        |> Seq.filter (fun (_, line) -> line.Trim() <> "")
        |> Seq.toArray
    let body =
        match lines with
        | [||] -> raise (InputException(path, "empty CSV file"))
        | _ when parse (snd lines.[0]) |> Array.exists Option.isNone -> lines.[1..]
        | _ -> lines
    if body.Length = 0 then
        raise (InputException(path, "no numeric rows after the header"))
    let columns = (snd body.[0]).Split(',').Length
    let values =
        body
        |> Array.collect (fun (number, line) ->
            let cells = parse line
            if cells.Length <> columns then
                raise (InputException(path, $"line {number} has {cells.Length} values; the first row has {columns}"))
            cells
            |> Array.mapi (fun c v ->
                match v with
                | Some v -> v
                | None -> raise (InputException(path, $"line {number}, column {c + 1} is not a number"))))
    { Source = path; Rows = body.Length; Columns = columns; Values = values }

/// Reads `FILE:TENSOR` (safetensors) or `FILE.csv`.
let load (spec: string) =
    match splitSpec spec with
    | path, None when path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) -> readCsv path
    | path, tensor -> readSafetensors path tensor
