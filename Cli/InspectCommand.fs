/// `hybrid inspect PATH`: what is inside a model, read from headers only (fast on multi-gigabyte files); with --graph,
/// its abstract architecture.
module Hybrid.Cli.InspectCommand

open Argu
open Hybrid.Analysis
open Hybrid.Analysis.InspectService
open Hybrid.Cli.Args
open Hybrid.Cli.Console

let private count (n: int64) = n.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)

let private shapeText (shape: int64[]) = "[" + (shape |> Array.map string |> String.concat ", ") + "]"

let private printHeaders (r: HeadersResult) (showTensors: bool) =
    heading $"{r.Path}"
    let dtypes = r.Tensors |> List.countBy _.DType |> List.map (fun (d, n) -> $"{d} x {n}") |> String.concat ", "
    table
        [ "figure"; "value" ]
        ([ [ "format"; r.Format ]
           [ "files"; string r.Files.Length ]
           [ "tensors"; string r.Tensors.Length ]
           [ "parameters"; count r.Parameters ]
           [ "buffer elements (BatchNorm statistics)"; count r.BufferElements ]
           [ "dtypes"; dtypes ] ]
         @ (r.ModelType |> Option.map (fun t -> [ [ "model_type"; t ] ]) |> Option.defaultValue [])
         @ (if r.Architectures.IsEmpty then [] else [ [ "architectures"; String.concat ", " r.Architectures ] ])
         @ (if r.Operators.Count = 0 then
                []
            else
                [ [ "operators"; r.Operators |> Seq.map (fun (KeyValue(op, n)) -> $"{op} x {n}") |> String.concat ", " ] ]))
    let nesting (path: string) = path |> Seq.filter ((=) '.') |> Seq.length
    table
        [ "module"; "tensors"; "parameters" ]
        [ for m in r.Modules ->
              [ String.replicate (nesting m.Path) "  " + m.Path; string m.Tensors; count m.Parameters ] ]
    if showTensors then
        table
            [ "tensor"; "dtype"; "shape"; "elements" ]
            [ for t in r.Tensors -> [ t.Name; t.DType; shapeText t.Shape; count (Array.fold (*) 1L t.Shape) ] ]

let private printGraph (a: GraphResult) =
    heading $"{a.Name} ({a.Format})"
    let optional name value = value |> Option.map (fun v -> [ name; v ]) |> Option.toList
    table
        [ "figure"; "value" ]
        ([ [ "nodes"; string a.Nodes ]
           [ "edges"; string a.Edges ]
           [ "modules"; string a.Modules ]
           [ "max depth"; string a.MaxDepth ]
           [ "parameters"; count a.Parameters ]
           [ "pruned"; (if a.Pruned.IsEmpty then "0" else $"{a.Pruned.Length}: " + String.concat ", " a.Pruned) ] ]
         @ optional "model_type" a.ModelType
         @ (if a.Architectures.IsEmpty then [] else [ [ "architectures"; String.concat ", " a.Architectures ] ])
         @ optional "task" a.Task)
    table
        [ "layer type"; "count" ]
        [ for KeyValue(t, n) in a.LayerTypes |> Seq.sortBy (fun (KeyValue(t, n)) -> -n, t) -> [ t; string n ] ]

/// Graphviz text of the DAG: one box per node labelled with its layer type and module path.
let private dot (a: Architecture.Architecture) =
    let escape (s: string) = s.Replace("\\", "\\\\").Replace("\"", "\\\"")
    printfn "digraph \"%s\" {" (escape a.Name)
    printfn "  node [shape=box];"
    for n in a.Nodes do
        let label = if n.ModulePath = "" then escape n.LayerType else escape n.LayerType + "\\n" + escape n.ModulePath
        printfn "  n%d [label=\"%s\"];" n.Id label
    for x, y in a.Edges do
        printfn "  n%d -> n%d;" x y
    printfn "}"

/// `inspect PATH --graph`: the abstract architecture (one per line of a trace file, per entry of a hub cache).
let private graph (args: ParseResults<InspectArgs>) =
    let architectures = Extract.fromPath (args.GetResult InspectArgs.Path)
    if args.Contains InspectArgs.Json then
        match architectures with
        | [ single ] -> printJson (graphResult single)
        | many -> printJson { Architectures = List.map graphResult many }
    else
        match args.GetResult(InspectArgs.Format, defaultValue = GraphFormat.Table) with
        | GraphFormat.Dot -> List.iter dot architectures
        | GraphFormat.Table -> architectures |> List.iter (graphResult >> printGraph)
    0

let private headers (args: ParseResults<InspectArgs>) =
    if args.Contains InspectArgs.Format then
        Input.fail "inspect: --format applies to --graph"
    let r =
        InspectService.headers
            (args.GetResult InspectArgs.Path)
            (args.GetResult(InspectArgs.Depth, defaultValue = Defaults.inspect.Depth))
    if args.Contains InspectArgs.Json then printJson r else printHeaders r (args.Contains InspectArgs.Tensors)
    0

let run (args: ParseResults<InspectArgs>) = if args.Contains InspectArgs.Graph then graph args else headers args
