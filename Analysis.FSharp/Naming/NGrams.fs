/// DARA's features of an abstract architecture (ALGORITHMS.md section 2), as counts of named terms: `l`, 2-grams over
/// the graph's edges with [INPUT] and [OUTPUT] tokens at the sources and sinks; `p`, 1-grams of each layer's type with
/// the parameters the source gives (weight shapes and attributes for ONNX, checkpoints and the zoo; a trace has names
/// only, so its 1-grams are the traced names as spelled); optionally `t`, 3-grams along paths, `d`, counts of output
/// shapes, and `b` and `e`, layer names tagged with their distance from the sources and to the sinks. Any source gives
/// the same kind of terms, so a classifier trained on traces reads a checkpoint.
module Hybrid.Analysis.Naming.NGrams

open System
open System.Collections.Generic
open Hybrid.Analysis
open Hybrid.Analysis.Architecture

/// Which families of terms a model's features hold (2-grams and 1-grams always).
type Options =
    {
        /// 3-grams along paths of two edges (DARA found them slow and sparse; off by default).
        Trigrams: bool
        /// Counts of output shapes (DARA's unused `d` dictionary; off by default).
        Shapes: bool
        /// The 2-grams (and 3-grams) over the traced names as spelled ("debertalayernorm", "newgeluactivation") where
        /// the source is a trace, instead of the normalised layer types ("LayerNorm", "GELU") every source shares.
        TracedNames: bool
        /// Each layer's name with its distance in edges from the nearest source ("b:2 embedding") and to the nearest
        /// sink ("e:0 tanh"), for distances below this (0: none). The layers that open a model (embeddings, position
        /// ids) and close it (pooler, head) tell families and tasks apart, while the repeated blocks between them
        /// look alike in most families; counts without positions cannot say which end a layer sits at.
        Positions: int
    }

/// 2-grams and 1-grams only, over the normalised layer types.
let defaults = { Trigrams = false; Shapes = false; TracedNames = false; Positions = 0 }

/// The graph's source marker, as DARA names it.
[<Literal>]
let InputToken = "[INPUT]"

/// The graph's sink marker, as DARA names it.
[<Literal>]
let OutputToken = "[OUTPUT]"

let private dims (shape: int64[]) = shape |> Array.map string |> String.concat "x"

let private attributeText (value: AttributeValue) =
    match value with
    | Int v -> string v
    | Float v -> v.ToString "R"
    | Text v -> v
    | Ints v -> "(" + (v |> Array.map string |> String.concat ",") + ")"

/// The attributes a 1-gram carries: a layer's architectural hyper-parameters, which every source spells alike.
/// Training settings (eps, momentum, the training flag) and one format's spellings of an operator (Gemm's alpha, beta
/// and transB, Flatten's axis against start_dim and end_dim) say nothing of the architecture and differ between the
/// sources of one model.
let private architectural =
    set
        [ "kernel_size"
          "stride"
          "padding"
          "dilation"
          "groups"
          "output_size"
          "in_features"
          "out_features"
          "in_channels"
          "out_channels"
          "num_features" ]

/// Values that some sources leave unwritten as the default: dilation 1, groups 1, an output size of 1 (a global pool,
/// which ONNX writes as GlobalAveragePool without attributes).
let private unwritten (name: string) (value: AttributeValue) =
    match name, value with
    | ("dilation" | "output_size"), Ints v -> Array.forall ((=) 1L) v
    | ("dilation" | "output_size" | "groups"), Int 1L -> true
    | _ -> false

/// A node's 1-gram: its type with its parameter shapes and architectural attributes in name order (DARA's
/// "Conv2d <in_channels,3> <out_channels,64> <kernel_size,(7,7)>"), or its traced name when it has neither.
let unigram (architecture: Architecture) (node: Node) =
    let parameters = node.Parameters |> List.sortBy fst |> List.map (fun (n, s) -> $"<{n},{dims s}>")
    let attributes =
        node.Attributes
        |> Map.toList
        |> List.filter (fun (n, v) -> architectural.Contains n && not (unwritten n v))
        |> List.map (fun (n, v) -> $"<{n},{attributeText v}>")
    match parameters @ attributes with
    | [] when architecture.Format = "trace" -> node.Original.ToLowerInvariant()
    | [] -> node.LayerType
    | rest -> String.concat " " (node.LayerType :: rest)

/// The vertices within `limit - 1` edges of the marker `start` (breadth first along `neighbours`), each with its
/// distance from the marker's nearest layer (0 for the layers the marker touches); the marker itself is left out.
let private distancesFrom (start: int) (neighbours: int -> seq<int>) (limit: int) =
    // Breadth first, so a layer is reached first at its least distance; the markers (negative) are never entered.
    let reached = HashSet<int>()
    let queue = Queue<int * int>()
    queue.Enqueue(start, -1)
    [ while queue.Count > 0 do
          let v, d = queue.Dequeue()
          if d >= 0 then
              yield v, d
          if d + 1 < limit then
              for w in neighbours v do
                  if w >= 0 && reached.Add w then
                      queue.Enqueue(w, d + 1) ]

/// The counts of one architecture's terms, each prefixed by its family ("l:", "p:", "t:", "d:", "b:", "e:").
let terms (options: Options) (architecture: Architecture) : IReadOnlyDictionary<string, int> =
    if options.Positions < 0 then
        raise (
            Hybrid.Core.Nn.InputException("--positions", $"{options.Positions} must be at least 0 (0: no positions)")
        )
    let counts = Dictionary<string, int>(StringComparer.Ordinal)
    let add (term: string) =
        counts[term] <-
            (match counts.TryGetValue term with
             | true, c -> c + 1
             | _ -> 1)
    let name (node: Node) =
        if options.TracedNames && architecture.Format = "trace" then
            node.Original.ToLowerInvariant()
        else
            node.LayerType
    let nodes = architecture.Nodes
    // Successor and predecessor lists with the markers as extra vertices: -1 feeds every source, every sink feeds -2.
    let next = Dictionary<int, List<int>>()
    let previous = Dictionary<int, List<int>>()
    let append (lists: Dictionary<int, List<int>>) v w =
        match lists.TryGetValue v with
        | true, l -> l.Add w
        | _ -> lists[v] <- List [ w ]
    let link a b =
        append next a b
        append previous b a
    let hasInput = HashSet<int>()
    let hasOutput = HashSet<int>()
    for a, b in architecture.Edges do
        link a b
        hasInput.Add b |> ignore
        hasOutput.Add a |> ignore
    for n in nodes do
        if not (hasInput.Contains n.Id) then
            link -1 n.Id
        if not (hasOutput.Contains n.Id) then
            link n.Id -2
    let token v =
        match v with
        | -1 -> InputToken
        | -2 -> OutputToken
        | _ -> name nodes[v]
    let along (lists: Dictionary<int, List<int>>) v =
        match lists.TryGetValue v with
        | true, l -> l :> seq<int>
        | _ -> Seq.empty
    let successors = along next
    for a in Seq.append [ -1 ] (nodes |> Seq.map _.Id) do
        for b in successors a do
            add $"l:{token a} {token b}"
            if options.Trigrams then
                for c in successors b do
                    add $"t:{token a} {token b} {token c}"
    if options.Positions > 0 then
        let tag (family: string) (marker: int) (neighbours: int -> seq<int>) =
            for v, d in distancesFrom marker neighbours options.Positions do
                add $"{family}:{d} {token v}"
        tag "b" -1 successors
        tag "e" -2 (along previous)
    for n in nodes do
        add ("p:" + unigram architecture n)
        if options.Shapes then
            n.OutputShape |> Option.iter (fun s -> add $"d:{dims s}")
    counts

/// Every model's terms, the models shared out over the cores: each model's counts are its own, so the result is the
/// same on any number of them, and a catalog's worth of traces is not read on one core while the other waits (the
/// 410 dev traces took 85-225 ms of one core, cold, at the start of `hybrid bench anomaly`'s timed run). A failure is
/// that of the first failing model, as it was thrown.
let termsOfAll (options: Options) (architectures: Architecture list) : IReadOnlyDictionary<string, int>[] =
    let models = Array.ofList architectures
    InOrder.map models.Length (fun i -> terms options models[i])
