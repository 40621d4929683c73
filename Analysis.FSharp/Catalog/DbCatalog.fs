/// The catalog over any ADO.NET store (SQLite, PostgreSQL): every extracted architecture (models, nodes, edges, module
/// hierarchy), the deduplication groups and the CKA layer index (CkaTables), in SQL both stores run with @name
/// parameters. Each call that writes runs in one transaction, so a failure part way (a constraint the data breaks, a
/// crash, a lost connection) leaves the catalog as it was before the call.
module Hybrid.Analysis.DbCatalog

open System
open System.Buffers
open System.Globalization
open System.Text.Json
open System.Data.Common
open Hybrid.Core.Nn
open Hybrid.Analysis.Architecture

/// An open catalog: the connection, its store's dialect, and the location the user named it by (shown in errors, a
/// password never).
type Db(location: string, connection: DbConnection, dialect: CatalogSchema.Dialect) =
    member _.Path = location
    member _.Connection = connection
    member _.Dialect = dialect

let private command (c: Db) (sql: string) =
    let cmd = c.Connection.CreateCommand()
    cmd.CommandText <- sql
    cmd

let private scalar (c: Db) (sql: string) = (command c sql).ExecuteScalar()

/// Runs body in one transaction: committed when it returns, rolled back when it throws.
let private transaction (c: Db) (body: DbTransaction -> 'a) =
    use tx = c.Connection.BeginTransaction()
    let result = body tx
    tx.Commit()
    result

let private fail (c: Db) (e: exn) (doing: string) = raise (InputException(c.Path, $"{doing}: {e.Message}", e))

let private addParameter (cmd: DbCommand) (name: string) (value: obj) =
    let p = cmd.CreateParameter()
    p.ParameterName <- name
    p.Value <- (if isNull value then box DBNull.Value else value)
    cmd.Parameters.Add p |> ignore
    p

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

/// A prepared statement inside tx whose parameters are @name for each name given, set per row with run.
let private prepared (c: Db) (tx: DbTransaction) (sql: string) (names: string list) =
    let cmd = command c sql
    cmd.Transaction <- tx
    let ps = [| for n in names -> addParameter cmd ("@" + n) null |]
    fun (values: obj list) ->
        List.iteri (fun i (v: obj) -> ps[i].Value <- (if isNull v then box DBNull.Value else v)) values
        cmd.ExecuteScalar()

/// Inserts rows (the table's columns in order) inside tx, the dialect's RowsPerInsert rows per statement.
let private insertRows (c: Db) (tx: DbTransaction) (table: string) (rows: obj list list) =
    for chunk in rows |> List.chunkBySize c.Dialect.RowsPerInsert do
        use cmd = command c ""
        cmd.Transaction <- tx
        let tuples =
            chunk
            |> List.mapi (fun r row ->
                let names =
                    row
                    |> List.mapi (fun i v ->
                        let name = $"@p{r}_{i}"
                        addParameter cmd name v |> ignore
                        name)
                "(" + String.Join(", ", names) + ")")
        cmd.CommandText <- $"INSERT INTO {table} VALUES " + String.Join(", ", tuples)
        cmd.ExecuteNonQuery() |> ignore

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
               VALUES (@name, @path, @index, @hash, @format, @type, @archs, @task, @params, @nodes, @edges, @depth,
               @pruned, @ops, @at) RETURNING id"""
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
    insertRows
        c
        tx
        "nodes"
        [ for n in arch.Nodes ->
              [ box id
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
                n.ParameterCount ] ]
    insertRows c tx "edges" (arch.Edges |> Array.toList |> List.mapi (fun k (s, t) -> [ box id; k; s; t ]))
    insertRows
        c
        tx
        "hierarchy"
        (arch.Hierarchy |> List.mapi (fun k e -> [ box id; k; e.Path; e.Type; e.Depth; (if e.Leaf then 1 else 0) ]))
    id

/// Stores every architecture of one source inside tx (which the caller commits) and returns their ids.
let insertWithin (c: Db) (tx: DbTransaction) (source: ModelSource) (task: string option) (archs: Architecture list) =
    archs |> List.mapi (fun i a -> insertOne c tx source i task a)

let private insertAll (c: Db) (source: ModelSource) (task: string option) (archs: Architecture list) =
    try
        transaction c (fun tx -> insertWithin c tx source task archs)
    with :? DbException as e ->
        fail c e $"storing {source.Path}"

let private tryFindByHash (c: Db) (hash: string) =
    let cmd = command c "SELECT id FROM models WHERE content_hash = @h ORDER BY id"
    addParameter cmd "@h" hash |> ignore
    use r = cmd.ExecuteReader()
    let ids =
        [ while r.Read() do
              r.GetInt64 0 ]
    if ids.IsEmpty then None else Some ids

let private text (r: DbDataReader) (i: int) = if r.IsDBNull i then None else Some(r.GetString i)

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

let private rows (c: Db) (sql: string) (id: int64) (read: DbDataReader -> 'a) =
    let cmd = command c sql
    addParameter cmd "@m" id |> ignore
    use r = cmd.ExecuteReader()
    [| while r.Read() do
           read r |]

let private load (c: Db) (id: int64) : Architecture =
    let header =
        rows
            c
            "SELECT name, format, model_type, architectures, task, pruned, original_ops FROM models WHERE id = @m"
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
            "SELECT node_id, name, layer_type, original, module_path, attributes, parameters, output_shape FROM nodes WHERE model_id = @m ORDER BY node_id"
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
        rows c "SELECT source, target FROM edges WHERE model_id = @m ORDER BY ordinal" id (fun r ->
            r.GetInt32 0, r.GetInt32 1)
    let hierarchy =
        rows c "SELECT path, type, depth, leaf FROM hierarchy WHERE model_id = @m ORDER BY ordinal" id (fun r ->
            { Path = r.GetString 0; Type = r.GetString 1; Depth = r.GetInt32 2; Leaf = r.GetInt32 3 <> 0 })
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
            let clear = command c "DELETE FROM dedup WHERE strategy = @s"
            clear.Transaction <- tx
            addParameter clear "@s" strategy |> ignore
            clear.ExecuteNonQuery() |> ignore
            let row =
                prepared
                    c
                    tx
                    "INSERT INTO dedup VALUES (@s, @t, @g, @m, @r, @score, @at)"
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
    with :? DbException as e ->
        fail c e $"storing the {strategy} groups"

let private groups (c: Db) (strategy: string) =
    let cmd =
        command
            c
            "SELECT group_id, model_id, representative_id, score FROM dedup WHERE strategy = @s ORDER BY group_id, model_id"
    addParameter cmd "@s" strategy |> ignore
    use r = cmd.ExecuteReader()
    [ while r.Read() do
          { GroupRow.Group = r.GetInt32 0
            GroupRow.Model = r.GetInt64 1
            GroupRow.Representative = r.GetInt64 2
            GroupRow.Score = if r.IsDBNull 3 then None else Some(r.GetDouble 3) } ]

/// An open catalog; dispose it to close the connection.
type DbCatalog internal (db: Db) =
    /// The open connection, for checks that read the tables directly.
    member _.Connection = db.Connection

    /// The catalog's connection, dialect and location, for stores that add their own tables (the work queue).
    member _.Db = db

    interface ICatalog with
        member _.Location = db.Path
        member _.SchemaVersion = CatalogSchema.storedVersion db.Connection
        member _.InsertAll(source, task, architectures) = insertAll db source task architectures
        member _.TryFindByHash hash = tryFindByHash db hash
        member _.Models() = models db
        member _.Load id = load db id
        member _.Counts() = counts db
        member _.WriteGroups(strategy, threshold, rows) = writeGroups db strategy threshold rows
        member _.Groups strategy = groups db strategy
        member _.ReplaceCkaModel(probe, layers) = CkaTables.replaceModel db.Connection db.Path probe layers
        member _.CkaProbes() = CkaTables.probes db.Connection
        member _.CkaModels() = CkaTables.models db.Connection
        member _.CkaBlocks(filter, blockRows) = CkaTables.blocks db.Connection db.Path filter blockRows
        member _.Dispose() = db.Connection.Dispose()

/// Opens the catalog in an open connection: creates its tables in an empty store or upgrades an older catalog
/// (CatalogSchema.ensure), and closes the connection when it refuses the store (InputException naming location).
let openConnection (location: string) (connection: DbConnection) (dialect: CatalogSchema.Dialect) =
    try
        CatalogSchema.ensure dialect connection location
        new DbCatalog(Db(location, connection, dialect))
    with
    | :? InputException ->
        connection.Dispose()
        reraise ()
    | :? DbException as e ->
        connection.Dispose()
        raise (InputException(location, $"cannot open the catalog: {e.Message}", e))
