/// `cka search`: the stored layers most similar to given layers, by exact top-k inner product over the catalog's CKA
/// encodings (linear CKA), read block by block so that an index larger than memory still searches. A query's own model
/// is skipped unless asked for; filters (minimum accuracy, layer type, training data set) are applied as rows are read.
module Hybrid.Analysis.LayerSearch

open Hybrid.Core.Gpu

/// One stored layer found for a query.
type Hit =
    {
        Model: string
        Version: string
        Layer: string
        LayerType: string
        /// Linear CKA between the query layer and this one (the inner product of their float32 encodings).
        Score: float
        Accuracy: float option
    }

/// The hits of one query layer, best first.
type QueryHits = { Probe: string; Model: string; Version: string; Layer: string; Results: Hit list }

/// What to search for and where.
type Query =
    {
        Model: string
        /// None: the model's one indexed version (several must be told apart).
        Version: string option
        /// The query layers; empty: every indexed layer of the model.
        Layers: string list
        /// None: the model's one probe set (several must be told apart).
        Probe: string option
        K: int
        IncludeSelf: bool
        MinAccuracy: float option
        LayerType: string option
        TrainedOn: string option
        /// Stored layers read and scored at a time.
        BlockRows: int
    }

/// Hits to return when none is said: the published system's five.
let DefaultK = 5

/// Stored layers read (and scored) at a time: 4,096 layers of n = 100 probes are 80 MB of float32.
let DefaultBlockRows = 4096

/// A query for every layer of model with the defaults.
let query (model: string) (layers: string list) =
    { Model = model
      Version = None
      Layers = layers
      Probe = None
      K = DefaultK
      IncludeSelf = false
      MinAccuracy = None
      LayerType = None
      TrainedOn = None
      BlockRows = DefaultBlockRows }

let private one (what: string) (model: string) (choices: string list) (flag: string) =
    match choices with
    | [ x ] -> x
    | [] -> Input.fail "cka: %s is not in the CKA index (run hybrid cka index first)" model
    | xs -> Input.fail "cka: %s has several %ss (%s); name one with %s" model what (String.concat ", " xs) flag

/// An indexed model on one probe set: its stored layers with their encodings, in forward order.
type IndexedLayers = { Probe: string; Model: string; Version: string; Layers: (CkaLayerRow * float32[]) list }

/// The stored layers of model (its one version and probe set unless named; several must be told apart).
let load (catalog: ICatalog) (model: string) (version: string option) (probe: string option) =
    let indexed =
        SearchBlocks.indexedModels catalog
        |> List.filter (fun m ->
            m.Model = model && (version.IsNone || version = Some m.Version) && (probe.IsNone || probe = Some m.Probe))
    let version = one "version" model (indexed |> List.map _.Version |> List.distinct) "--version"
    let probe = one "probe set" model (indexed |> List.map _.Probe |> List.distinct) "--probe"
    let filter = { CkaFilter.Of probe with Model = Some model; Version = Some version }
    { Probe = probe
      Model = model
      Version = version
      Layers =
        [ for b in Catalog.ckaBlocks catalog filter DefaultBlockRows do
              for i in 0 .. b.Layers.Length - 1 -> b.Layers[i], Array.sub b.Encodings (i * b.Dimension) b.Dimension ] }

/// The stored layers of a model named by layer path (all of them for an empty list); an unknown path is refused.
let pick (m: IndexedLayers) (names: string list) =
    if names.IsEmpty then
        m.Layers
    else
        [ for name in names ->
              match m.Layers |> List.tryFind (fun (l, _) -> l.Layer = name) with
              | Some found -> found
              | None ->
                  let known = m.Layers |> List.map (fun (l, _) -> l.Layer) |> List.truncate 12 |> String.concat ", "
                  Input.fail "cka: %s/%s has no indexed layer %s (it has %s, ...)" m.Model m.Version name known ]

/// The top k stored layers for each query layer, best first (equal scores: index order), over every block of the
/// catalog's rows that pass the filters.
let search (device: Device) (catalog: ICatalog) (q: Query) =
    if q.K < 1 then
        Input.fail "cka search: --k %d must be at least 1" q.K
    if q.BlockRows < 1 then
        Input.fail "cka search: %d rows per block; at least 1" q.BlockRows
    let indexed = load catalog q.Model q.Version q.Probe
    let probe, version, chosen = indexed.Probe, indexed.Version, pick indexed q.Layers
    let queries = chosen |> List.map snd |> Array.concat
    let best = Array.init chosen.Length (fun _ -> ResizeArray<float32 * int64 * CkaLayerRow>())
    let filter =
        { CkaFilter.Of probe with LayerType = q.LayerType; MinAccuracy = q.MinAccuracy; TrainedOn = q.TrainedOn }
    let stored =
        SearchBlocks.indexedModels catalog |> List.sumBy (fun m -> if m.Probe = probe then int64 m.Layers else 0L)
    // Each stored float32 value, and the byte of it that the Cpu search's integer first pass keeps beside it.
    let bytes = stored * int64 (queries.Length / max 1 chosen.Length) * int64 (sizeof<float32> + sizeof<sbyte>)
    SearchBlocks.withBlocks device catalog filter q.BlockRows bytes (fun groups blocks ->
        let exclude =
            Array.create
                chosen.Length
                (if q.IncludeSelf then EncodingIndex.NoGroup else SearchBlocks.groupOf groups q.Model)
        let mutable offset = 0L
        for block in blocks do
            let hits = block.Index.Search(System.ReadOnlySpan queries, chosen.Length, q.K, System.ReadOnlySpan exclude)
            for i in 0 .. chosen.Length - 1 do
                for h in hits[i] do
                    best[i].Add((h.Score, offset + int64 h.Row, block.Layers[h.Row]))
                // Blocks arrive in index order, so (score descending, global row ascending) is the order one index over
                // every row would give.
                let kept = best[i] |> Seq.sortBy (fun (s, row, _) -> -s, row) |> Seq.truncate q.K |> Seq.toArray
                best[i].Clear()
                best[i].AddRange kept
            offset <- offset + int64 block.Layers.Length)
    [ for i, (layer, _) in List.indexed chosen ->
          { QueryHits.Probe = probe
            QueryHits.Model = q.Model
            QueryHits.Version = version
            QueryHits.Layer = layer.Layer
            QueryHits.Results =
              [ for score, _, l in best[i] ->
                    { Hit.Model = l.Model
                      Hit.Version = l.Version
                      Layer = l.Layer
                      LayerType = l.LayerType
                      Score = float score
                      Accuracy = l.Accuracy } ] } ]

/// Opens the catalog at db for reading the CKA index; a missing file is refused rather than created.
let openIndex (db: string) =
    if not (Catalog.exists db) then
        Input.fail "%s: no such catalog" db
    Catalog.openOrCreate db

/// Searches the catalog at db (see search).
let run (device: Device) (db: string) (q: Query) =
    use catalog = openIndex db
    search device catalog q
