/// The catalog's tables, version by version, written once for every store: each store names the few column types and
/// catalog queries its SQL spells differently (a Dialect), and opening a catalog applies the steps above its stored
/// version in one transaction, so SQLite and PostgreSQL catalogs are created and upgraded by the same steps.
module Hybrid.Analysis.CatalogSchema

open System
open System.Data.Common
open Hybrid.Core.Nn

/// What one store's SQL spells its own way.
type Dialect =
    {
        /// The store's name in messages ("SQLite", "PostgreSQL").
        Name: string
        /// A generated 64-bit row id that is the primary key.
        Id: string
        /// Bytes.
        Blob: string
        /// A double-precision float.
        Real: string
        /// What follows a table keyed by its primary key alone (SQLite: WITHOUT ROWID).
        Keyed: string
        /// How many tables the catalog's schema holds, and how many of them are named @name.
        CountTables: string
        CountTable: string
        /// Run first in the upgrade transaction, so that processes opening one catalog at once upgrade it one at a time.
        Lock: string option
        /// Rows per multi-row INSERT statement when a model's nodes, edges and hierarchy are stored.
        RowsPerInsert: int
    }

/// The schema this build writes; a catalog with a higher version was written by a newer Hybrid and is refused.
let version = 2

// Version 1: the architectures and the dedup groups. Version 2: the CKA layer index (SQLite catalogs of version 1 may
// already hold its tables, created on open before versions covered them) and the work queue.
let private steps (d: Dialect) =
    [ 1,
      $"""
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE models (
  id {d.Id}, name TEXT NOT NULL, source_path TEXT NOT NULL, source_index INTEGER NOT NULL,
  content_hash TEXT NOT NULL, format TEXT NOT NULL, model_type TEXT, architectures TEXT NOT NULL, task TEXT,
  parameter_count BIGINT NOT NULL, node_count INTEGER NOT NULL, edge_count INTEGER NOT NULL,
  max_depth INTEGER NOT NULL, pruned TEXT NOT NULL, original_ops TEXT NOT NULL, extracted_at TEXT NOT NULL);
CREATE INDEX models_hash ON models (content_hash);
CREATE TABLE nodes (
  model_id BIGINT NOT NULL REFERENCES models (id) ON DELETE CASCADE, node_id INTEGER NOT NULL,
  name TEXT NOT NULL, layer_type TEXT NOT NULL, original TEXT NOT NULL, module_path TEXT NOT NULL,
  attributes TEXT NOT NULL, parameters TEXT NOT NULL, output_shape TEXT, parameter_count BIGINT NOT NULL,
  PRIMARY KEY (model_id, node_id)){d.Keyed};
CREATE TABLE edges (
  model_id BIGINT NOT NULL, ordinal INTEGER NOT NULL, source INTEGER NOT NULL, target INTEGER NOT NULL,
  PRIMARY KEY (model_id, ordinal),
  FOREIGN KEY (model_id, source) REFERENCES nodes (model_id, node_id) ON DELETE CASCADE,
  FOREIGN KEY (model_id, target) REFERENCES nodes (model_id, node_id) ON DELETE CASCADE){d.Keyed};
CREATE TABLE hierarchy (
  model_id BIGINT NOT NULL REFERENCES models (id) ON DELETE CASCADE, ordinal INTEGER NOT NULL,
  path TEXT NOT NULL, type TEXT NOT NULL, depth INTEGER NOT NULL, leaf INTEGER NOT NULL,
  PRIMARY KEY (model_id, ordinal)){d.Keyed};
CREATE TABLE dedup (
  strategy TEXT NOT NULL, threshold {d.Real}, group_id INTEGER NOT NULL,
  model_id BIGINT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  representative_id BIGINT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  score {d.Real}, created_at TEXT NOT NULL, PRIMARY KEY (strategy, model_id));
"""
      2,
      $"""
CREATE TABLE IF NOT EXISTS cka_probes (
  id TEXT PRIMARY KEY, spec TEXT NOT NULL, indices TEXT NOT NULL, preprocessing TEXT NOT NULL, seed BIGINT,
  count INTEGER NOT NULL, input_shape TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cka_layers (
  probe_id TEXT NOT NULL REFERENCES cka_probes (id), model TEXT NOT NULL, version TEXT NOT NULL,
  ordinal INTEGER NOT NULL, layer TEXT NOT NULL, layer_type TEXT NOT NULL, output_shape TEXT NOT NULL,
  parameters TEXT NOT NULL, parameter_count BIGINT NOT NULL, accuracy {d.Real}, trained_on TEXT, source TEXT NOT NULL,
  indexed_at TEXT NOT NULL, encoding {d.Blob} NOT NULL,
  PRIMARY KEY (probe_id, model, version, ordinal));
CREATE INDEX IF NOT EXISTS cka_layers_layer ON cka_layers (model, version, layer);
CREATE TABLE work_queue (
  id {d.Id}, path TEXT NOT NULL UNIQUE, task TEXT, state TEXT NOT NULL, attempts INTEGER NOT NULL,
  worker TEXT, lease_until BIGINT, error TEXT, models INTEGER, enqueued_at TEXT NOT NULL, finished_at TEXT);
CREATE INDEX work_queue_state ON work_queue (state, id);
""" ]

let private count (connection: DbConnection) (tx: DbTransaction) (sql: string) (name: string option) =
    use cmd = connection.CreateCommand()
    cmd.Transaction <- tx
    cmd.CommandText <- sql
    name
    |> Option.iter (fun n ->
        let p = cmd.CreateParameter()
        p.ParameterName <- "@name"
        p.Value <- n
        cmd.Parameters.Add p |> ignore)
    Convert.ToInt64(cmd.ExecuteScalar())

let private execute (connection: DbConnection) (tx: DbTransaction) (sql: string) =
    use cmd = connection.CreateCommand()
    cmd.Transaction <- tx
    cmd.CommandText <- sql
    cmd.ExecuteNonQuery() |> ignore

/// The version a catalog was written with, or None for an empty store; location names the catalog in errors.
let private stored (d: Dialect) (connection: DbConnection) (tx: DbTransaction) (location: string) =
    if count connection tx d.CountTable (Some "schema_version") > 0L then
        Some(Convert.ToInt32(count connection tx "SELECT max(version) FROM schema_version" None))
    elif count connection tx d.CountTables None > 0L then
        raise (InputException(location, $"a {d.Name} database that is not a Hybrid catalog (no schema_version table)"))
    else
        None

/// Creates the catalog's tables in an empty store, or brings an older catalog up to this build's version, in one
/// transaction; refuses, writing nothing, a store that holds other tables and a catalog of a newer version.
let ensure (d: Dialect) (connection: DbConnection) (location: string) =
    use tx = connection.BeginTransaction()
    d.Lock |> Option.iter (execute connection tx)
    let from = stored d connection tx location |> Option.defaultValue 0
    if from > version then
        raise (InputException(location, $"catalog schema {from} is newer than this build's ({version}); update Hybrid"))
    for v, sql in steps d do
        if v > from then
            execute connection tx (sql + $"INSERT INTO schema_version VALUES ({v});")
    tx.Commit()

/// The version a catalog was written with (after ensure: this build's, or an older one it upgraded).
let storedVersion (connection: DbConnection) =
    use cmd = connection.CreateCommand()
    cmd.CommandText <- "SELECT max(version) FROM schema_version"
    Convert.ToInt32(cmd.ExecuteScalar())

/// The tables of one version alone, for tests that build an older catalog and open it.
let stepSql (d: Dialect) (v: int) = steps d |> List.find (fst >> (=) v) |> snd
