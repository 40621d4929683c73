/// `hybrid bench cka-index`: the CKA index end to end. Indexing a ResNet-56-sized model (every module hooked, one
/// encoding per layer, written to a catalog) against PyTorch hooks + NumPy encodings of the same weights; and exact
/// top-k search through the catalog (encodings read block by block from SQLite on the first call and kept between calls
/// while the catalog file is unchanged) over 100,000 stored
/// layers of n = 100 probes against NumPy's exact search over the same rows held in memory.
module Hybrid.Bench.CkaIndexBench

open System
open System.Diagnostics
open System.IO
open Hybrid.Core.Gpu
open Hybrid.Core.Nn.Formats
open Hybrid.Core.Nn.Zoo
open Hybrid.Analysis
open Hybrid.Bench.Report

type Options =
    {
        /// Depth of the CIFAR ResNet indexed (56: 9 blocks per stage).
        Depth: int
        /// Probe inputs n: every encoding holds n (n + 1) / 2 floats.
        Probes: int
        /// Layers stored in the searched catalog.
        Stored: int
        /// Layers per stored model (the search skips the query's own model, so the queries are one more model).
        LayersPerModel: int
        K: int
        /// Query layers searched in one call.
        Batch: int
        Timing: Timing.Policy
    }

/// The issue's cases: ResNet-56 indexed on 100 probes; top-10 of 100 query layers over 100,000 stored layers.
let defaults =
    { Depth = 56; Probes = 100; Stored = 100_000; LayersPerModel = 100; K = 10; Batch = 100; Timing = Timing.standard }

/// Cases that finish in seconds.
let quick = { defaults with Depth = 20; Stored = 5_000; Timing = Timing.quick }

let private indexPeer = { Peers.Script = "cka_index_torch.py"; Peers.Packages = [ "python3-torch"; "python3-numpy" ] }

let private probeRow (id: string) (n: int) =
    { ProbeRow.Id = id
      ProbeRow.Spec = $"normal:{n}:3x32x32:{Data.seed}"
      ProbeRow.Indices = $"0-{n - 1}"
      ProbeRow.Preprocessing = "none"
      ProbeRow.Seed = Some(int64 Data.seed)
      ProbeRow.Count = n
      ProbeRow.InputShape = [| 3; 32; 32 |] }

let private stored (catalog: ICatalog) (probe: string) =
    [| for b in Catalog.ckaBlocks catalog (CkaFilter.Of probe) 1024 -> b.Encodings |] |> Array.concat

let private indexCase (device: Device) (o: Options) (dir: string) =
    let arch = $"cifar-resnet{o.Depth}"
    let weights = Path.Combine(dir, "model.pt")
    StateDicts.SavePyTorch(weights, Zoo.Create(arch, seed = int64 Data.seed).StateDict())
    let probe =
        { ProbeSet.Probe.Row = probeRow "bench-index" o.Probes
          ProbeSet.Probe.Images = Data.normal (Random Data.seed) 1.0f (o.Probes * 3 * 32 * 32) }
    let inputs = Path.Combine(dir, "probe.f32")
    Data.writeRaw inputs probe.Images
    use catalog = Catalog.openOrCreate (Path.Combine(dir, "index.db"))
    let model =
        { LayerIndex.ModelToIndex.Path = weights
          LayerIndex.ModelToIndex.Name = arch
          LayerIndex.ModelToIndex.Version = "1"
          LayerIndex.ModelToIndex.Arch = Some arch
          LayerIndex.ModelToIndex.Accuracy = None
          LayerIndex.ModelToIndex.TrainedOn = None }
    let name = $"index resnet{o.Depth} n={o.Probes}"
    progress "cka-index" $"timing {name} on {device.Name}"
    let mutable layers = 0
    let seconds =
        Timing.measureOn device o.Timing (fun () ->
            layers <- (LayerIndex.indexModel device catalog probe LayerCapture.everyLayer model).Layers)
    progress "cka-index" "timing the PyTorch + NumPy peer"
    let outcome =
        Peers.run
            indexPeer
            ([ "--dir"
               dir
               "--model"
               weights
               "--depth"
               string o.Depth
               "--inputs"
               inputs
               "--n"
               string o.Probes
               "--case"
               name ]
             @ Timing.toArgs o.Timing)
    let case = Peers.toCase "pytorch+numpy" outcome name seconds
    let agreement =
        match Data.tryReadRaw<float32>(Path.Combine(dir, "cka_index_torch.f32")) with
        | None -> ""
        | Some theirs ->
            let ours = stored catalog probe.Row.Id
            if theirs.Length <> ours.Length then
                $"; the peer encoded {theirs.Length} floats, ours {ours.Length}"
            else
                let worst = Array.fold2 (fun w (a: float32) b -> max w (abs (float a - float b))) 0.0 ours theirs
                $"; max |ours - peer| over every encoding {worst:E1}"
    let note = $"{layers} layers stored in a SQLite catalog (the peer keeps them in memory){agreement}"
    { case with Note = Some(defaultArg (case.Note |> Option.map (fun n -> $"{n}; {note}")) note) }

/// The catalog row of one layer of a synthetic model (version 1): a Conv2d with no parameters, accuracy or
/// training set recorded, for catalogs filled with made-up encodings (the search case here, the catalog tests).
let syntheticLayer (probe: string) (model: string) (ordinal: int) (layer: string) =
    { CkaLayerRow.Probe = probe
      CkaLayerRow.Model = model
      CkaLayerRow.Version = "1"
      CkaLayerRow.Ordinal = ordinal
      CkaLayerRow.Layer = layer
      CkaLayerRow.LayerType = "Conv2d"
      CkaLayerRow.OutputShape = [| 1L |]
      CkaLayerRow.Parameters = ""
      CkaLayerRow.ParameterCount = 0L
      CkaLayerRow.Accuracy = None
      CkaLayerRow.TrainedOn = None
      CkaLayerRow.Source = "bench" }

let private searchCase (device: Device) (o: Options) (dir: string) =
    let dimension = o.Probes * (o.Probes + 1) / 2
    let probe = probeRow "bench-search" o.Probes
    let store (catalog: ICatalog) (model: string) (start: int64) (count: int) =
        let rows = CkaBench.hashRows start count dimension
        Catalog.replaceCkaModel
            catalog
            probe
            [ for j in 0 .. count - 1 ->
                  syntheticLayer probe.Id model j $"l{j}", Array.sub rows (j * dimension) dimension ]
    use catalog = Catalog.openOrCreate (Path.Combine(dir, "search.db"))
    progress "cka-index" $"writing {o.Stored} layers of {dimension} floats to a catalog"
    let clock = Stopwatch.StartNew()
    let models = o.Stored / o.LayersPerModel
    for m in 0 .. models - 1 do
        store catalog $"m{m:D6}" (int64 m * int64 o.LayersPerModel * int64 dimension) o.LayersPerModel
    store catalog "query" (int64 o.Stored * int64 dimension) o.Batch
    let written = clock.Elapsed.TotalSeconds
    let q = { LayerSearch.query "query" [] with K = o.K }
    progress "cka-index" $"timing top-{o.K} search of {o.Batch} layers through the catalog on {device.Name}"
    let mutable hits = []
    SearchBlocks.clear ()
    let cold = Stopwatch.StartNew()
    hits <- LayerSearch.search device catalog q
    let coldS = cold.Elapsed.TotalSeconds
    let seconds = Timing.measureOn device o.Timing (fun () -> hits <- LayerSearch.search device catalog q)
    progress "cka-index" "timing the NumPy search peer"
    let outcome = CkaBench.runSearchPeer dir o.Stored dimension o.K [ o.Batch ] o.Timing
    let case = Peers.toCase "numpy" outcome $"top-{o.K} batch {o.Batch}" seconds
    let agreement =
        match Data.tryReadRaw<int64>(Path.Combine(dir, $"topk_numpy_{o.Batch}.i64")) with
        | None -> ""
        | Some theirs ->
            let row (h: LayerSearch.Hit) =
                int64 (Int32.Parse(h.Model.Substring 1)) * int64 o.LayersPerModel
                + int64 (Int32.Parse(h.Layer.Substring 1))
            let same =
                hits
                |> List.mapi (fun qi (r: LayerSearch.QueryHits) ->
                    r.Results |> List.mapi (fun rank h -> row h = theirs[qi * o.K + rank]))
                |> List.concat
            $"; same rows as numpy at {same |> List.filter id |> List.length} of {same.Length} ranks"
    let qps (s: float) = float o.Batch / s
    let rate =
        match case.PeerS with
        | Some peer -> $"{qps seconds:F1} vs {qps peer:F1} queries/s"
        | None -> $"{qps seconds:F1} queries/s"
    let gb = float o.Stored * float dimension * 4.0 / 1e9
    let note =
        $"{rate}; the first call read the {gb:F1} GB catalog from SQLite into search blocks in {coldS:F2} s, later calls search the blocks kept while the catalog file is unchanged; numpy holds the rows in memory; catalog written in {written:F0} s{agreement}"
    { case with
        Case = $"catalog search top-{o.K}, {o.Batch} queries over {o.Stored} x {dimension}"
        Note = Some(defaultArg (case.Note |> Option.map (fun n -> $"{n}; {note}")) note) }

/// The indexing case, then the catalog search case, each against its peer.
let run (device: Device) (options: Options) =
    if options.Stored % options.LayersPerModel <> 0 then
        invalidArg "options" $"Stored {options.Stored} must be a multiple of {options.LayersPerModel}"
    let dir = Data.scratch "cka-index"
    try
        let index = indexCase device options dir
        let search = searchCase device options dir
        { Benchmark = "cka-index"; Device = device.Name; Cores = cores (); Cases = [ index; search ] }
    finally
        Directory.Delete(dir, true)
