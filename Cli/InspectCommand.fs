/// `hybrid inspect PATH`: what is inside a model, read from headers only (fast on multi-gigabyte files); with --graph,
/// its abstract architecture.
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

/// The figures --graph prints for one architecture, as JSON-ready values.
let private graphSummary (a: Architecture.Architecture) =
    let labels = a.Labels
    dict [ "name", box a.Name; "format", box a.Format
           "model_type", box (Option.toObj labels.ModelType); "architectures", box labels.Architectures
           "task", box (Option.toObj labels.Task)
           "nodes", box a.Nodes.Length; "edges", box a.Edges.Length
           "ops", box (dict [ for KeyValue(op, n) in a.OriginalOps -> op, n ])
           "layer_types", box (dict (a.LayerSequence |> Array.countBy id |> Array.sortBy fst))
           "max_depth", box a.MaxDepth; "modules", box a.Hierarchy.Length
           "parameters", box a.ParameterCount; "pruned", box a.Pruned ]

let private printGraph (a: Architecture.Architecture) =
    heading $"{a.Name} ({a.Format})"
    let optional name value = value |> Option.map (fun v -> [ name; v ]) |> Option.toList
    table [ "figure"; "value" ]
        ([ [ "nodes"; string a.Nodes.Length ]
           [ "edges"; string a.Edges.Length ]
           [ "modules"; string a.Hierarchy.Length ]
           [ "max depth"; string a.MaxDepth ]
           [ "parameters"; count a.ParameterCount ]
           [ "pruned"; (if a.Pruned.IsEmpty then "0" else $"{a.Pruned.Length}: " + String.concat ", " a.Pruned) ] ]
         @ optional "model_type" a.Labels.ModelType
         @ (if a.Labels.Architectures.IsEmpty then [] else [ [ "architectures"; String.concat ", " a.Labels.Architectures ] ])
         @ optional "task" a.Labels.Task)
    table [ "layer type"; "count" ]
        [ for t, n in a.LayerSequence |> Array.countBy id |> Array.sortBy (fun (t, n) -> -n, t) -> [ t; string n ] ]

/// Graphviz text of the DAG: one box per node labelled with its layer type and module path.
let private dot (a: Architecture.Architecture) =
    let escape (s: string) = s.Replace("\\", "\\\\").Replace("\"", "\\\"")
    printfn "digraph \"%s\" {" (escape a.Name)
    printfn "  node [shape=box];"
    for n in a.Nodes do
        let label = if n.ModulePath = "" then escape n.LayerType else escape n.LayerType + "\\n" + escape n.ModulePath
        printfn "  n%d [label=\"%s\"];" n.Id label
    for x, y in a.Edges do printfn "  n%d -> n%d;" x y
    printfn "}"

/// `inspect PATH --graph`: the abstract architecture (one per line of a trace file, per entry of a hub cache).
let private graph (args: ParseResults<InspectArgs>) =
    let path = args.GetResult InspectArgs.Path
    let architectures = Extract.fromPath path
    if args.Contains InspectArgs.Json then
        match architectures with
        | [ single ] -> printfn "%s" (JsonSerializer.Serialize(graphSummary single))
        | many -> printfn "%s" (JsonSerializer.Serialize(dict [ "architectures", List.map graphSummary many ]))
    else
        match args.GetResult(InspectArgs.Format, defaultValue = GraphFormat.Table) with
        | GraphFormat.Dot -> List.iter dot architectures
        | GraphFormat.Table -> List.iter printGraph architectures
    0

let private headers (args: ParseResults<InspectArgs>) =
    if args.Contains InspectArgs.Format then fail "inspect: --format applies to --graph"
    let depth = args.GetResult(InspectArgs.Depth, defaultValue = 2)
    if depth < 0 || depth > 64 then fail "inspect: --depth %d is outside 0..64" depth
    let report = Inspect.read (args.GetResult InspectArgs.Path)
    let tree = Inspect.modules depth report.Tensors
    if args.Contains InspectArgs.Json then json report tree else print report tree (args.Contains InspectArgs.Tensors)
    0

let run (args: ParseResults<InspectArgs>) = if args.Contains InspectArgs.Graph then graph args else headers args
