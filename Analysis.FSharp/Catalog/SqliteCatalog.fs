/// The catalog in one SQLite file: every extracted architecture (models, nodes, edges, module hierarchy), the
/// deduplication groups and the CKA layer index (SqliteCkaIndex). Each call that writes runs in one transaction, so a
/// failure part way (a constraint the data breaks, a crash) leaves the catalog as it was before the call.
module Hybrid.Analysis.SqliteCatalog

open System
open System.Buffers
open System.Globalization
open System.Text.Json
open Microsoft.Data.Sqlite
open Hybrid.Core.Nn
open Hybrid.Analysis.Architecture

/// The schema this build writes; a catalog with a higher version was written by a newer Hybrid and is refused.
let schemaVersion = 1

let private schema =
    """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE models (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, source_path TEXT NOT NULL, source_index INTEGER NOT NULL,
  content_hash TEXT NOT NULL, format TEXT NOT NULL, model_type TEXT, architectures TEXT NOT NULL, task TEXT,
  parameter_count INTEGER NOT NULL, node_count INTEGER NOT NULL, edge_count INTEGER NOT NULL,
  max_depth INTEGER NOT NULL, pruned TEXT NOT NULL, original_ops TEXT NOT NULL, extracted_at TEXT NOT NULL);
CREATE INDEX models_hash ON models (content_hash);
CREATE TABLE nodes (
  model_id INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE, node_id INTEGER NOT NULL,
  name TEXT NOT NULL, layer_type TEXT NOT NULL, original TEXT NOT NULL, module_path TEXT NOT NULL,
  attributes TEXT NOT NULL, parameters TEXT NOT NULL, output_shape TEXT, parameter_count INTEGER NOT NULL,
  PRIMARY KEY (model_id, node_id)) WITHOUT ROWID;
CREATE TABLE edges (
  model_id INTEGER NOT NULL, ordinal INTEGER NOT NULL, source INTEGER NOT NULL, target INTEGER NOT NULL,
  PRIMARY KEY (model_id, ordinal),
  FOREIGN KEY (model_id, source) REFERENCES nodes (model_id, node_id) ON DELETE CASCADE,
  FOREIGN KEY (model_id, target) REFERENCES nodes (model_id, node_id) ON DELETE CASCADE) WITHOUT ROWID;
CREATE TABLE hierarchy (
  model_id INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE, ordinal INTEGER NOT NULL,
  path TEXT NOT NULL, type TEXT NOT NULL, depth INTEGER NOT NULL, leaf INTEGER NOT NULL,
  PRIMARY KEY (model_id, ordinal)) WITHOUT ROWID;
CREATE TABLE dedup (
  strategy TEXT NOT NULL, threshold REAL, group_id INTEGER NOT NULL,
  model_id INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  representative_id INTEGER NOT NULL REFERENCES models (id) ON DELETE CASCADE,
  score REAL, created_at TEXT NOT NULL, PRIMARY KEY (strategy, model_id));
"""

/// An open SQLite file and the path the user named it by.
type internal Db(path: string, connection: SqliteConnection) =
    member _.Path = path
    member _.Connection = connection

let private command (c: Db) (sql: string) =
    let cmd = c.Connection.CreateCommand()
    cmd.CommandText <- sql
    cmd

let private scalar (c: Db) (sql: string) = (command c sql).ExecuteScalar()

/// Runs body in one transaction: committed when it returns, rolled back when it throws.
let private transaction (c: Db) (body: SqliteTransaction -> 'a) =
    use tx = c.Connection.BeginTransaction()
    let result = body tx
    tx.Commit()
    result

let private fail (c: Db) (e: exn) (doing: string) = raise (InputException(c.Path, $"{doing}: {e.Message}", e))

let private storedVersion (c: Db) = Convert.ToInt32(scalar c "SELECT max(version) FROM schema_version")

let private openDb (path: string) =
    let builder = SqliteConnectionStringBuilder(DataSource = path, Pooling = false)
    let connection = new SqliteConnection(builder.ToString())
    let c = Db(path, connection)
    try
        connection.Open()
        let tables = Convert.ToInt64(scalar c "SELECT count(*) FROM sqlite_master WHERE type = 'table'")
        let versioned =
            Convert.ToInt64(scalar c "SELECT count(*) FROM sqlite_master WHERE name = 'schema_version'") > 0L
        (command c "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL").ExecuteNonQuery()
        |> ignore
        if not versioned && tables > 0L then
            raise (InputException(path, "a SQLite file that is not a Hybrid catalog (no schema_version table)"))
        if not versioned then
            transaction c (fun tx ->
                let cmd = command c (schema + $"INSERT INTO schema_version VALUES ({schemaVersion});")
                cmd.Transaction <- tx
                cmd.ExecuteNonQuery() |> ignore)
        let version = storedVersion c
        if version > schemaVersion then
            raise (
                InputException(
                    path,
                    $"catalog schema {version} is newer than this build's ({schemaVersion}); update Hybrid"
                )
            )
        SqliteCkaIndex.ensureTables connection
        c
    with
    | :? InputException ->
        connection.Dispose()
        reraise ()
    | :? SqliteException as e ->
        connection.Dispose()
        raise (InputException(path, $"cannot open the catalog: {e.Message}", e))

let private json (write: Utf8JsonWriter -> unit) =
    let buffer = ArrayBufferWriter<byte>()
    (use w = new Utf8JsonWriter(buffer)
     write w)
    Text.Encoding.UTF8.GetString buffer.WrittenSpan

let private writeShape (w: Utf8JsonWriter) (shape: int64[]) =
    w.WriteStartArray()
    for d in shape do
        w.WriteNumberValue d
    w.WriteEndArray()

// Each value is tagged with its kind, and floats are written as round-trip text, so that Int 1 and Float 1.0 (and
// infinities, which JSON numbers cannot hold) load back as they were stored.
let private attributesJson (attributes: Map<string, AttributeValue>) =
    json (fun w ->
        w.WriteStartObject()
        for KeyValue(name, value) in attributes do
            w.WriteStartObject name
            match value with
            | Int i -> w.WriteNumber("i", i)
            | Float f -> w.WriteString("f", f.ToString("R", CultureInfo.InvariantCulture))
            | Text s -> w.WriteString("s", s)
            | Ints xs ->
                w.WritePropertyName "is"
                writeShape w xs
            w.WriteEndObject()
        w.WriteEndObject())

let private readShape (e: JsonElement) = [| for d in e.EnumerateArray() -> d.GetInt64() |]

let private parseAttributes (text: string) =
    use doc = JsonDocument.Parse text
    [ for p in doc.RootElement.EnumerateObject() ->
          let tagged = p.Value.EnumerateObject() |> Seq.head
          let value =
              match tagged.Name with
              | "i" -> Int(tagged.Value.GetInt64())
              | "f" -> Float(Double.Parse(tagged.Value.GetString(), CultureInfo.InvariantCulture))
              | "s" -> Text(tagged.Value.GetString())
              | _ -> Ints(readShape tagged.Value)
          p.Name, value ]
    |> Map.ofList

let private parametersJson (parameters: (string * int64[]) list) =
    json (fun w ->
        w.WriteStartArray()
        for name, shape in parameters do
            w.WriteStartArray()
            w.WriteStringValue name
            writeShape w shape
            w.WriteEndArray()
        w.WriteEndArray())

let private parseParameters (text: string) =
    use doc = JsonDocument.Parse text
    [ for p in doc.RootElement.EnumerateArray() -> p[0].GetString(), readShape p[1] ]

let private stringsJson (xs: string seq) =
    json (fun w ->
        w.WriteStartArray()
        for x in xs do
            w.WriteStringValue x
        w.WriteEndArray())

let private parseStrings (text: string) =
    use doc = JsonDocument.Parse text
    [ for x in doc.RootElement.EnumerateArray() -> x.GetString() ]

let private opsJson (ops: Map<string, int>) =
    json (fun w ->
        w.WriteStartObject()
        for KeyValue(op, n) in ops do
            w.WriteNumber(op, n)
        w.WriteEndObject())

let private parseOps (text: string) =
    use doc = JsonDocument.Parse text
    [ for p in doc.RootElement.EnumerateObject() -> p.Name, p.Value.GetInt32() ] |> Map.ofList

/// A prepared statement inside tx whose parameters are $name for each name given, set per row with run.
let private prepared (c: Db) (tx: SqliteTransaction) (sql: string) (names: string list) =
    let cmd = command c sql
    cmd.Transaction <- tx
    let ps = [| for n in names -> cmd.Parameters.Add(SqliteParameter("$" + n, null)) |]
    fun (values: obj list) ->
        List.iteri (fun i (v: obj) -> ps[i].Value <- (if isNull v then box DBNull.Value else v)) values
        cmd.ExecuteScalar()

let private optionText (x: string option) =
    match x with
    | Some s -> box s
    | None -> null

let private insertOne (c: Db) tx (source: ModelSource) (index: int) (task: string option) (arch: Architecture) =
    let model =
        prepared
            c
            tx
            """INSERT INTO models (name, source_path, source_index, content_hash, format, model_type, architectures, task,
               parameter_count, node_count, edge_count, max_depth, pruned, original_ops, extracted_at)
               VALUES ($name, $path, $index, $hash, $format, $type, $archs, $task, $params, $nodes, $edges, $depth,
               $pruned, $ops, $at) RETURNING id"""
            [ "name"
              "path"
              "index"
              "hash"
              "format"
              "type"
              "archs"
              "task"
              "params"
              "nodes"
              "edges"
              "depth"
              "pruned"
              "ops"
              "at" ]
    let id =
        model
            [ arch.Name
              source.Path
              index
              source.Hash
              arch.Format
              optionText arch.Labels.ModelType
              stringsJson arch.Labels.Architectures
              optionText (task |> Option.orElse arch.Labels.Task)
              arch.ParameterCount
              arch.Nodes.Length
              arch.Edges.Length
              arch.MaxDepth
              stringsJson arch.Pruned
              opsJson arch.OriginalOps
              DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture) ]
        |> Convert.ToInt64
    let node =
        prepared
            c
            tx
            """INSERT INTO nodes VALUES ($m, $id, $name, $type, $original, $path, $attrs, $params, $shape, $count)"""
            [ "m"; "id"; "name"; "type"; "original"; "path"; "attrs"; "params"; "shape"; "count" ]
    for n in arch.Nodes do
        node
            [ id
              n.Id
              n.Name
              n.LayerType
              n.Original
              n.ModulePath
              attributesJson n.Attributes
              parametersJson n.Parameters
              (match n.OutputShape with
               | Some s -> box (json (fun w -> writeShape w s))
               | None -> null)
              n.ParameterCount ]
        |> ignore
    let edge = prepared c tx "INSERT INTO edges VALUES ($m, $k, $s, $t)" [ "m"; "k"; "s"; "t" ]
    arch.Edges |> Array.iteri (fun k (s, t) -> edge [ id; k; s; t ] |> ignore)
    let entry =
        prepared
            c
            tx
            "INSERT INTO hierarchy VALUES ($m, $k, $path, $type, $depth, $leaf)"
            [ "m"; "k"; "path"; "type"; "depth"; "leaf" ]
    arch.Hierarchy
    |> List.iteri (fun k e -> entry [ id; k; e.Path; e.Type; e.Depth; (if e.Leaf then 1 else 0) ] |> ignore)
    id

let private insertAll (c: Db) (source: ModelSource) (task: string option) (archs: Architecture list) =
    try
        transaction c (fun tx -> archs |> List.mapi (fun i a -> insertOne c tx source i task a))
    with :? SqliteException as e ->
        fail c e $"storing {source.Path}"

let private tryFindByHash (c: Db) (hash: string) =
    let cmd = command c "SELECT id FROM models WHERE content_hash = $h ORDER BY id"
    cmd.Parameters.AddWithValue("$h", hash) |> ignore
    use r = cmd.ExecuteReader()
    let ids =
        [ while r.Read() do
              r.GetInt64 0 ]
    if ids.IsEmpty then None else Some ids

let private text (r: SqliteDataReader) (i: int) = if r.IsDBNull i then None else Some(r.GetString i)

let private models (c: Db) =
    use r =
        (command
            c
            """SELECT id, name, source_path, content_hash, format, model_type, architectures, task,
                      parameter_count, node_count, extracted_at FROM models ORDER BY id""")
            .ExecuteReader()
    [ while r.Read() do
          { ModelRow.Id = r.GetInt64 0
            ModelRow.Name = r.GetString 1
            ModelRow.SourcePath = r.GetString 2
            ModelRow.ContentHash = r.GetString 3
            ModelRow.Format = r.GetString 4
            ModelRow.ModelType = text r 5
            ModelRow.Architectures = parseStrings (r.GetString 6)
            ModelRow.Task = text r 7
            ModelRow.ParameterCount = r.GetInt64 8
            ModelRow.NodeCount = r.GetInt32 9
            ModelRow.ExtractedAt = r.GetString 10 } ]

let private rows (c: Db) (sql: string) (id: int64) (read: SqliteDataReader -> 'a) =
    let cmd = command c sql
    cmd.Parameters.AddWithValue("$m", id) |> ignore
    use r = cmd.ExecuteReader()
    [| while r.Read() do
           read r |]

let private load (c: Db) (id: int64) : Architecture =
    let header =
        rows
            c
            "SELECT name, format, model_type, architectures, task, pruned, original_ops FROM models WHERE id = $m"
            id
            (fun r ->
                r.GetString 0,
                r.GetString 1,
                text r 2,
                parseStrings (r.GetString 3),
                text r 4,
                parseStrings (r.GetString 5),
                parseOps (r.GetString 6))
    if header.Length = 0 then
        raise (InputException(c.Path, $"no model with id {id}"))
    let name, format, modelType, architectures, task, pruned, ops = header[0]
    let nodes =
        rows
            c
            "SELECT node_id, name, layer_type, original, module_path, attributes, parameters, output_shape FROM nodes WHERE model_id = $m ORDER BY node_id"
            id
            (fun r ->
                { Id = r.GetInt32 0
                  Name = r.GetString 1
                  LayerType = r.GetString 2
                  Original = r.GetString 3
                  ModulePath = r.GetString 4
                  Attributes = parseAttributes (r.GetString 5)
                  Parameters = parseParameters (r.GetString 6)
                  OutputShape =
                    text r 7 |> Option.map (fun s -> use d = JsonDocument.Parse s in readShape d.RootElement) })
    let edges =
        rows c "SELECT source, target FROM edges WHERE model_id = $m ORDER BY ordinal" id (fun r ->
            r.GetInt32 0, r.GetInt32 1)
    let hierarchy =
        rows c "SELECT path, type, depth, leaf FROM hierarchy WHERE model_id = $m ORDER BY ordinal" id (fun r ->
            { Path = r.GetString 0; Type = r.GetString 1; Depth = r.GetInt32 2; Leaf = r.GetInt64 3 <> 0L })
    { Name = name
      Format = format
      Labels = { ModelType = modelType; Architectures = architectures; Task = task }
      Nodes = nodes
      Edges = edges
      Hierarchy = List.ofArray hierarchy
      Pruned = pruned
      OriginalOps = ops }

let private counts (c: Db) =
    [ for t in [ "models"; "nodes"; "edges"; "hierarchy"; "dedup" ] ->
          t, Convert.ToInt64(scalar c $"SELECT count(*) FROM {t}") ]
    |> Map.ofList

let private writeGroups (c: Db) (strategy: string) (threshold: float option) (groups: GroupRow list) =
    try
        transaction c (fun tx ->
            let clear = command c "DELETE FROM dedup WHERE strategy = $s"
            clear.Transaction <- tx
            clear.Parameters.AddWithValue("$s", strategy) |> ignore
            clear.ExecuteNonQuery() |> ignore
            let row =
                prepared
                    c
                    tx
                    "INSERT INTO dedup VALUES ($s, $t, $g, $m, $r, $score, $at)"
                    [ "s"; "t"; "g"; "m"; "r"; "score"; "at" ]
            let at = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture)
            for g in groups do
                row
                    [ strategy
                      (match threshold with
                       | Some t -> box t
                       | None -> null)
                      g.Group
                      g.Model
                      g.Representative
                      (match g.Score with
                       | Some s -> box s
                       | None -> null)
                      at ]
                |> ignore)
    with :? SqliteException as e ->
        fail c e $"storing the {strategy} groups"

let private groups (c: Db) (strategy: string) =
    let cmd =
        command
            c
            "SELECT group_id, model_id, representative_id, score FROM dedup WHERE strategy = $s ORDER BY group_id, model_id"
    cmd.Parameters.AddWithValue("$s", strategy) |> ignore
    use r = cmd.ExecuteReader()
    [ while r.Read() do
          { GroupRow.Group = r.GetInt32 0
            GroupRow.Model = r.GetInt64 1
            GroupRow.Representative = r.GetInt64 2
            GroupRow.Score = if r.IsDBNull 3 then None else Some(r.GetDouble 3) } ]

/// An open SQLite catalog; dispose it to close the file.
type SqliteCatalog internal (db: Db) =
    /// The open connection, for checks that read the tables directly.
    member _.Connection = db.Connection

    interface ICatalog with
        member _.Location = db.Path
        member _.SchemaVersion = storedVersion db
        member _.InsertAll(source, task, architectures) = insertAll db source task architectures
        member _.TryFindByHash hash = tryFindByHash db hash
        member _.Models() = models db
        member _.Load id = load db id
        member _.Counts() = counts db
        member _.WriteGroups(strategy, threshold, rows) = writeGroups db strategy threshold rows
        member _.Groups strategy = groups db strategy
        member _.ReplaceCkaModel(probe, layers) = SqliteCkaIndex.replaceModel db.Connection db.Path probe layers
        member _.CkaProbes() = SqliteCkaIndex.probes db.Connection
        member _.CkaModels() = SqliteCkaIndex.models db.Connection
        member _.CkaBlocks(filter, blockRows) = SqliteCkaIndex.blocks db.Connection db.Path filter blockRows
        member _.Dispose() = db.Connection.Dispose()

/// Opens the SQLite catalog at path, creating the file and its tables when it does not exist. Refuses (InputException)
/// a file that is not SQLite, a SQLite file that is not a catalog, and a catalog with a newer schema.
let openOrCreate (path: string) = new SqliteCatalog(openDb path)
