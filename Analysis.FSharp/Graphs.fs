/// DAG utilities every source shares: a stable topological order, cycle detection, back-edge removal for traced
/// recurrence, pruning to the nodes that lie on a path from a source to an output, and the module hierarchy that
/// dotted module paths spell.
module Hybrid.Analysis.Graphs

open System.Collections.Generic
open Hybrid.Analysis.Architecture

/// A graph as a source reads it, before pruning: edges are (from, to) indexes into Nodes (whose Id is ignored);
/// Sources are the nodes that read a graph input or parameter or read nothing at all; Sinks produce an output.
type RawGraph = { Nodes: Node[]; Edges: (int * int)[]; Sources: int list; Sinks: int list }

let private adjacency (count: int) (edges: (int * int)[]) =
    let next = Array.init count (fun _ -> ResizeArray<int>())
    let previous = Array.init count (fun _ -> ResizeArray<int>())
    for a, b in edges do
        next[a].Add b
        previous[b].Add a
    next, previous

/// Kahn's algorithm, taking the lowest-numbered ready node first, so a graph already in topological order keeps its
/// order. Error: the nodes of one cycle, in cycle order from its lowest-numbered node.
let topologicalOrder (count: int) (edges: (int * int)[]) : Result<int[], int list> =
    let next, previous = adjacency count edges
    let indegree = Array.init count (fun i -> previous[i].Count)
    let ready = PriorityQueue<int, int>()
    for i in 0 .. count - 1 do
        if indegree[i] = 0 then
            ready.Enqueue(i, i)
    let order = ResizeArray<int>(count)
    while ready.Count > 0 do
        let n = ready.Dequeue()
        order.Add n
        for m in next[n] do
            indegree[m] <- indegree[m] - 1
            if indegree[m] = 0 then
                ready.Enqueue(m, m)
    if order.Count = count then
        Ok(order.ToArray())
    else
        // Every node left has a predecessor that is also left, so walking predecessors must revisit a node.
        let left = Array.init count (fun i -> indegree[i] > 0)
        let seen = Dictionary<int, int>()
        let walk = ResizeArray<int>()
        let mutable n = Array.findIndex id left
        while not (seen.ContainsKey n) do
            seen[n] <- walk.Count
            walk.Add n
            n <- previous[n] |> Seq.find (fun p -> left[p])
        let cycle = walk |> Seq.skip seen[n] |> Seq.rev |> List.ofSeq
        // Start at the lowest-numbered node, so the cycle named does not depend on where the walk began.
        let start = cycle |> List.findIndex ((=) (List.min cycle))
        Error(List.skip start cycle @ List.take start cycle)

/// Edges that close a cycle in a depth-first search started from each node in index order: removing them leaves a
/// DAG (DARA's treatment of recurrent modules traced step by step). Returns (kept, removed).
let removeBackEdges (count: int) (edges: (int * int)[]) =
    let next, _ = adjacency count edges
    let state = Array.zeroCreate<byte> count // 0 unvisited, 1 on the stack, 2 done
    let back = HashSet<int * int>()
    for root in 0 .. count - 1 do
        if state[root] = 0uy then
            let stack = Stack<int * int>()
            stack.Push(root, 0)
            state[root] <- 1uy
            while stack.Count > 0 do
                let n, i = stack.Pop()
                if i < next[n].Count then
                    stack.Push(n, i + 1)
                    let m = next[n][i]
                    match state[m] with
                    | 0uy ->
                        state[m] <- 1uy
                        stack.Push(m, 0)
                    | 1uy -> back.Add((n, m)) |> ignore
                    | _ -> ()
                else
                    state[n] <- 2uy
    edges |> Array.partition (fun e -> not (back.Contains e))

let private reach (starts: int list) (step: ResizeArray<int>[]) =
    let seen = Array.zeroCreate<bool> step.Length
    let queue = Queue<int>(starts)
    for s in starts do
        seen[s] <- true
    while queue.Count > 0 do
        for m in step[queue.Dequeue()] do
            if not seen[m] then
                seen[m] <- true
                queue.Enqueue m
    seen

/// Nodes reachable from a source and from which a sink can be reached; every other node is pruned.
let kept (graph: RawGraph) =
    let next, previous = adjacency graph.Nodes.Length graph.Edges
    let fromSource = reach graph.Sources next
    let toSink = reach graph.Sinks previous
    Array.init graph.Nodes.Length (fun i -> fromSource[i] && toSink[i])

/// Prunes the graph, orders the kept nodes topologically and renumbers them (Id = index). The graph must be acyclic
/// (sources check for cycles first); returns the nodes, the distinct edges and the names of the pruned nodes.
let finish (graph: RawGraph) =
    let keep = kept graph
    let order =
        match topologicalOrder graph.Nodes.Length graph.Edges with
        | Ok order -> order
        | Error cycle -> invalidOp $"Graphs.finish needs a DAG; nodes {cycle} form a cycle"
    let keptOrder = order |> Array.filter (fun i -> keep[i])
    let newId = Dictionary<int, int>()
    keptOrder |> Array.iteri (fun index old -> newId[old] <- index)
    let nodes = keptOrder |> Array.mapi (fun index old -> { graph.Nodes[old] with Id = index })
    let edges =
        graph.Edges
        |> Array.filter (fun (a, b) -> keep[a] && keep[b])
        |> Array.map (fun (a, b) -> newId[a], newId[b])
        |> Array.distinct
        |> Array.sort
    let pruned =
        [ for i in 0 .. graph.Nodes.Length - 1 do
              if not keep[i] then
                  graph.Nodes[i].Name ]
    nodes, edges, pruned

/// The architecture of a graph traced by hooks on a live module (Core.Nn's or TorchSharp's), finished as `finish`
/// does after its back edges are removed. Per-op tracing cannot form a cycle (an op only reads tensors made before it);
/// the guard keeps the DAG contract should a module ever hand back a tensor it is still writing. format names the
/// tracer ("zoo", "torchsharp"); originalOps counts every traced op or module type, pruned or not.
let traced name format labels hierarchy originalOps (graph: RawGraph) : Architecture =
    let acyclic, _ = removeBackEdges graph.Nodes.Length graph.Edges
    let kept, keptEdges, pruned = finish { graph with Edges = acyclic }
    { Name = name
      Format = format
      Labels = labels
      Nodes = kept
      Edges = keptEdges
      Hierarchy = hierarchy
      Pruned = pruned
      OriginalOps = originalOps }

/// Nesting depth of a dotted module path: the number of dots ("layer1.0.conv1" -> 2).
let depth (path: string) = path |> Seq.filter ((=) '.') |> Seq.length

/// The module hierarchy spelled by dotted paths: every path and each of its dotted prefixes, parents before children
/// in first-seen order; leaf when no other path extends it. typeOf names the type of a leaf; containers get "".
let hierarchy (typeOf: string -> string) (paths: string seq) : ModuleEntry list =
    let ordered = ResizeArray<string>()
    let seen = HashSet<string>()
    for path in paths do
        if path <> "" then
            let parts = path.Split '.'
            for k in 1 .. parts.Length do
                let prefix = System.String.Join(".", parts, 0, k)
                if seen.Add prefix then
                    ordered.Add prefix
    let parents = HashSet<string>()
    for path in ordered do
        let dot = path.LastIndexOf '.'
        if dot > 0 then
            parents.Add(path.Substring(0, dot)) |> ignore
    [ for path in ordered ->
          let leaf = not (parents.Contains path)
          { Path = path; Type = (if leaf then typeOf path else ""); Depth = depth path; Leaf = leaf } ]

/// The type of a leaf module read from its nodes: their one layer type when they agree, else "" (formats that record
/// no module types, such as ONNX and state dicts, leave containers untyped).
let leafTypes (nodes: Node seq) =
    let types =
        nodes
        |> Seq.groupBy _.ModulePath
        |> Seq.map (fun (path, group) ->
            match group |> Seq.map _.LayerType |> Seq.distinct |> List.ofSeq with
            | [ single ] -> path, single
            | _ -> path, "")
        |> dict
    fun (path: string) ->
        match types.TryGetValue path with
        | true, t -> t
        | _ -> ""
