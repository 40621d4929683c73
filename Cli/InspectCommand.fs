/// `hybrid inspect PATH`: what is inside a model, read from headers only (fast on multi-gigabyte files).
module Hybrid.Cli.InspectCommand

open System.Text.Json
open Argu
open Hybrid.Analysis
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private count (n: int64) = n.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)

let private shapeText (shape: int64[]) = "[" + (shape |> Array.map string |> String.concat ", ") + "]"

let private print (report: Inspect.Report) (tree: Inspect.ModuleNode) (showTensors: bool) =
    heading $"{report.Path}"
    let dtypes =
        report.Tensors |> List.countBy _.DType |> List.map (fun (d, n) -> $"{d} x {n}") |> String.concat ", "
    table [ "figure"; "value" ]
        ([ [ "format"; report.Format ]
           [ "files"; string report.Files.Length ]
           [ "tensors"; string report.Tensors.Length ]
           [ "parameters"; count report.Parameters ]
           [ "buffer elements (BatchNorm statistics)"; count report.BufferElements ]
           [ "dtypes"; dtypes ] ]
         @ (report.ModelType |> Option.map (fun t -> [ [ "model_type"; t ] ]) |> Option.defaultValue [])
         @ (if report.Architectures.IsEmpty then [] else [ [ "architectures"; String.concat ", " report.Architectures ] ])
         @ (if report.Operators.IsEmpty then []
            else [ [ "operators"; report.Operators |> List.map (fun (op, n) -> $"{op} x {n}") |> String.concat ", " ] ]))
    let rec rows (node: Inspect.ModuleNode) (indent: int) =
        [ for child in node.Children do
            yield [ String.replicate indent "  " + child.Path; string child.Tensors; count child.Parameters ]
            yield! rows child (indent + 1) ]
    table [ "module"; "tensors"; "parameters" ] (rows tree 0)
    if showTensors then
        table [ "tensor"; "dtype"; "shape"; "elements" ]
            [ for t in report.Tensors -> [ t.Name; t.DType; shapeText t.Shape; count t.Elements ] ]

let private json (report: Inspect.Report) (tree: Inspect.ModuleNode) =
    let rec flatten (node: Inspect.ModuleNode) =
        [ for child in node.Children do
            yield dict [ "path", box child.Path; "tensors", box child.Tensors; "parameters", box child.Parameters ]
            yield! flatten child ]
    dict [ "path", box report.Path; "format", box report.Format; "files", box report.Files
           "model_type", box (Option.toObj report.ModelType); "architectures", box report.Architectures
           "parameters", box report.Parameters; "buffer_elements", box report.BufferElements
           "operators", box (dict [ for op, n in report.Operators -> op, n ])
           "tensors", box [ for t in report.Tensors -> dict [ "name", box t.Name; "dtype", box t.DType; "shape", box t.Shape ] ]
           "modules", box (flatten tree) ]
    |> fun doc -> printfn "%s" (JsonSerializer.Serialize doc)

let run (args: ParseResults<InspectArgs>) =
    let depth = args.GetResult(InspectArgs.Depth, defaultValue = 2)
    if depth < 0 || depth > 64 then fail "inspect: --depth %d is outside 0..64" depth
    let report = Inspect.read (args.GetResult InspectArgs.Path)
    let tree = Inspect.modules depth report.Tensors
    if args.Contains InspectArgs.Json then json report tree else print report tree (args.Contains InspectArgs.Tensors)
    0
