namespace Hybrid.Analysis

open System
open Hybrid.Analysis.Architecture

/// Where a model came from: the file or folder and the SHA-256 of its content (see Extraction.contentHash).
[<RequireQualifiedAccess>]
type ModelSource = { Path: string; Hash: string }

/// One model of a catalog, without its graph.
[<RequireQualifiedAccess>]
type ModelRow =
    { Id: int64
      Name: string
      SourcePath: string
      ContentHash: string
      Format: string
      ModelType: string option
      Architectures: string list
      Task: string option
      ParameterCount: int64
      NodeCount: int
      ExtractedAt: string }

/// One model's place in a deduplication run.
[<RequireQualifiedAccess>]
type GroupRow = { Group: int; Model: int64; Representative: int64; Score: float option }

/// The catalog of extracted architectures (models, nodes, edges, module hierarchy), deduplication groups and the CKA
/// layer index (probe sets, and per layer its packed centred-Gram encoding), as the
/// commands, pipelines and a server use it, whatever stores it (SQLite first; see Catalog.openOrCreate). Every call that
/// writes is atomic: a failure part way leaves the catalog as it was, and raises InputException naming the catalog.
type ICatalog =
    inherit IDisposable

    /// Where the catalog is, as the user named it (a file path for SQLite).
    abstract Location: string

    /// The schema version the catalog was written with.
    abstract SchemaVersion: int

    /// Stores every architecture read from one source (a trace file holds many) and returns their ids: all or none.
    /// task, when given, replaces the architectures' own.
    abstract InsertAll: source: ModelSource * task: string option * architectures: Architecture list -> int64 list

    /// Ids of the models already stored from content with this hash, or None.
    abstract TryFindByHash: hash: string -> int64 list option

    /// Every model, in the order they were stored.
    abstract Models: unit -> ModelRow list

    /// The architecture stored under id, as it was inserted (task: the one stored).
    abstract Load: id: int64 -> Architecture

    /// Rows per table (models, nodes, edges, hierarchy, dedup).
    abstract Counts: unit -> Map<string, int64>

    /// Replaces the groups of a strategy ("name", "architecture", "both") with these.
    abstract WriteGroups: strategy: string * threshold: float option * groups: GroupRow list -> unit

    /// The stored groups of a strategy, by group then model.
    abstract Groups: strategy: string -> GroupRow list

    /// Replaces every stored layer of (model, version) on probe's probe set with these, recording the probe set when it is
    /// new: all in one transaction, so a failure leaves the model's previous layers in place.
    abstract ReplaceCkaModel: probe: ProbeRow * layers: (CkaLayerRow * float32[]) list -> unit

    /// Every recorded probe set, in the order they were first used.
    abstract CkaProbes: unit -> ProbeRow list

    /// Every indexed model, per probe set, by probe set, model and version.
    abstract CkaModels: unit -> CkaModelRow list

    /// The stored layers a filter matches, with their encodings, read blockRows layers at a time as the sequence is
    /// enumerated (an index larger than memory is never read whole).
    abstract CkaBlocks: filter: CkaFilter * blockRows: int -> seq<CkaBlock>
