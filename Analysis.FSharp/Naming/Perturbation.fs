/// Seeded structural perturbations of an abstract architecture, for a labelled training catalog where real labelled
/// models are few (the demo's, built from its own zoo): each copy drops or repeats a few layers, as the variants of
/// one family on a model hub differ in depth, so a classifier learns the family's n-grams rather than one graph.
module Hybrid.Analysis.Naming.Perturbation

open Hybrid.Analysis.Architecture

/// The architecture with its nodes in this order (old ids), edges between kept nodes renumbered.
let private reorder (architecture: Architecture) (order: int[]) (edges: (int * int) seq) =
    let position = System.Collections.Generic.Dictionary<int, int>()
    order |> Array.iteri (fun i old -> position[old] <- i)
    { architecture with
        Nodes = order |> Array.mapi (fun i old -> { architecture.Nodes[old] with Id = i })
        Edges = edges |> Seq.map (fun (a, b) -> position[a], position[b]) |> Seq.distinct |> Array.ofSeq }

/// Removes node k; each of its predecessors feeds each of its successors instead.
let drop (architecture: Architecture) (k: int) =
    let before = architecture.Edges |> Array.filter (fun (_, b) -> b = k) |> Array.map fst
    let after = architecture.Edges |> Array.filter (fun (a, _) -> a = k) |> Array.map snd
    let kept = architecture.Edges |> Array.filter (fun (a, b) -> a <> k && b <> k)
    let bridged =
        [| for p in before do
               for s in after -> p, s |]
    reorder architecture (Array.init architecture.Nodes.Length id |> Array.filter ((<>) k)) (Seq.append kept bridged)

/// Repeats node k in series: k feeds its copy, and the copy feeds k's successors.
let repeat (architecture: Architecture) (k: int) =
    let n = architecture.Nodes.Length
    let copy = { architecture.Nodes[k] with Id = n; Name = architecture.Nodes[k].Name + "~" }
    let widened = { architecture with Nodes = Array.append architecture.Nodes [| copy |] }
    let edges =
        [| for a, b in architecture.Edges do
               yield (if a = k then n, b else a, b)
           yield k, n |]
    reorder
        widened
        (Array.init (n + 1) (fun i ->
            if i <= k then i
            elif i = k + 1 then n
            else i - 1))
        edges

/// `count` copies of the architecture, named NAME~1 ... NAME~count, each with 1 to maxEdits random drops or repeats
/// drawn from the seed (an architecture of one node is only ever repeated).
let variants (seed: int) (count: int) (maxEdits: int) (architecture: Architecture) =
    let random = System.Random seed
    [ for i in 1..count ->
          let mutable a = architecture
          for _ in 1 .. random.Next(1, maxEdits + 1) do
              let k = random.Next a.Nodes.Length
              a <- if a.Nodes.Length > 1 && random.Next 2 = 0 then drop a k else repeat a k
          { a with Name = $"{architecture.Name}~{i}" } ]
