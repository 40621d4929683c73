/// The catalog as commands and pipelines use it: where it is by default, how one is opened, and the operations of
/// ICatalog as functions. The location picks the store, here and nowhere else: a postgres:// URI or an Npgsql
/// connection string is a PostgreSQL database, anything else a SQLite file.
module Hybrid.Analysis.Catalog

/// The catalog a command uses when none is named: hybrid.db in the working folder.
let defaultPath = "hybrid.db"

/// The schema this build writes; a catalog with a higher version was written by a newer Hybrid and is refused.
let schemaVersion = CatalogSchema.version

/// Whether location names a PostgreSQL database rather than a SQLite file.
let isPostgres (location: string) = PostgresCatalog.isLocation location

/// Opens the catalog at location (a SQLite path, a postgres:// URI or an Npgsql connection string), creating it when
/// it does not exist and upgrading an older one (see SqliteCatalog.openOrCreate, PostgresCatalog.openOrCreate).
let openOrCreate (location: string) : ICatalog =
    if isPostgres location then PostgresCatalog.openOrCreate location else SqliteCatalog.openOrCreate location

/// Whether a catalog is there already: the SQLite file exists, or the PostgreSQL database holds the catalog's tables
/// (a server that cannot be reached raises InputException). Commands that only read check this rather than create one.
let exists (location: string) =
    if isPostgres location then PostgresCatalog.exists location else System.IO.File.Exists location

/// Stores every architecture read from one source, all or none, and returns their ids (see ICatalog.InsertAll).
let insertAll (c: ICatalog) (source: ModelSource) (task: string option) (archs: Architecture.Architecture list) =
    c.InsertAll(source, task, archs)

/// Stores one model with its nodes, edges and hierarchy and returns its id.
let insert (c: ICatalog) (source: ModelSource) (task: string option) (arch: Architecture.Architecture) =
    c.InsertAll(source, task, [ arch ]) |> List.head

/// Ids of the models already stored from content with this hash, or None.
let tryFindByHash (c: ICatalog) (hash: string) = c.TryFindByHash hash

/// Every model, in the order they were stored.
let models (c: ICatalog) = c.Models()

/// The architecture stored under id.
let load (c: ICatalog) (id: int64) = c.Load id

/// Rows per table (models, nodes, edges, hierarchy, dedup).
let counts (c: ICatalog) = c.Counts()

/// Replaces the groups of strategy with rows.
let writeGroups (c: ICatalog) (strategy: string) (threshold: float option) (rows: GroupRow list) =
    c.WriteGroups(strategy, threshold, rows)

/// The stored groups of strategy, by group then model.
let groups (c: ICatalog) (strategy: string) = c.Groups strategy

/// Replaces the CKA layers of one model and version on a probe set, in one transaction (see ICatalog.ReplaceCkaModel).
let replaceCkaModel (c: ICatalog) (probe: ProbeRow) (layers: (CkaLayerRow * float32[]) list) =
    c.ReplaceCkaModel(probe, layers)

/// Every recorded probe set.
let ckaProbes (c: ICatalog) = c.CkaProbes()

/// Every model of the CKA index, per probe set.
let ckaModels (c: ICatalog) = c.CkaModels()

/// The stored layers filter matches with their encodings, blockRows at a time (see ICatalog.CkaBlocks).
let ckaBlocks (c: ICatalog) (filter: CkaFilter) (blockRows: int) = c.CkaBlocks(filter, blockRows)
