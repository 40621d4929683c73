/// The CKA layer index inside a catalog, in SQL that SQLite and PostgreSQL both run: probe sets, and per indexed layer
/// its metadata and packed encoding as float32 bytes. Re-indexing a model replaces its rows in one transaction; reads
/// stream the rows a block at a time from one reader, so an index larger than memory is never held whole.
module Hybrid.Analysis.CkaTables

open System
open System.Globalization
open System.Data.Common
open Hybrid.Core.Nn

let private ints (xs: seq<'a>) = String.Join(",", xs)

let private parseInts (text: string) parse = if text = "" then [||] else text.Split ',' |> Array.map parse

let private parameter (cmd: DbCommand) (name: string) (value: obj) =
    let p = cmd.CreateParameter()
    p.ParameterName <- name
    p.Value <- (if isNull value then box DBNull.Value else value)
    cmd.Parameters.Add p |> ignore
    p

let private add (cmd: DbCommand) (name: string) (value: obj) = parameter cmd name value |> ignore

let private option (x: 'a option) =
    match x with
    | Some v -> box v
    | None -> null

let private blob (encoding: float32[]) =
    let bytes = Array.zeroCreate<byte>(encoding.Length * sizeof<float32>)
    Buffer.BlockCopy(encoding, 0, bytes, 0, bytes.Length)
    bytes

let private insertProbe (connection: DbConnection) (tx: DbTransaction) (p: ProbeRow) =
    use cmd = connection.CreateCommand()
    cmd.Transaction <- tx
    cmd.CommandText <-
        """INSERT INTO cka_probes VALUES (@id, @spec, @indices, @pre, @seed, @count, @shape, @at)
           ON CONFLICT (id) DO NOTHING"""
    add cmd "@id" p.Id
    add cmd "@spec" p.Spec
    add cmd "@indices" p.Indices
    add cmd "@pre" p.Preprocessing
    add cmd "@seed" (option p.Seed)
    add cmd "@count" p.Count
    add cmd "@shape" (ints p.InputShape)
    add cmd "@at" (DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture))
    cmd.ExecuteNonQuery() |> ignore

/// Replaces the layers of one model and version on probe's probe set, in one transaction; path names the catalog in
/// errors.
let replaceModel (connection: DbConnection) (path: string) (probe: ProbeRow) (layers: (CkaLayerRow * float32[]) list) =
    let dimension = probe.Count * (probe.Count + 1) / 2
    for layer, encoding in layers do
        if layer.Probe <> probe.Id || encoding.Length <> dimension then
            invalidArg
                "layers"
                $"layer {layer.Layer}: probe {layer.Probe} with {encoding.Length} floats, expected {probe.Id} with {dimension}"
    try
        use tx = connection.BeginTransaction()
        insertProbe connection tx probe
        for model, version in layers |> List.map (fun (l, _) -> l.Model, l.Version) |> List.distinct do
            use clear = connection.CreateCommand()
            clear.Transaction <- tx
            clear.CommandText <- "DELETE FROM cka_layers WHERE probe_id = @p AND model = @m AND version = @v"
            add clear "@p" probe.Id
            add clear "@m" model
            add clear "@v" version
            clear.ExecuteNonQuery() |> ignore
        use insert = connection.CreateCommand()
        insert.Transaction <- tx
        insert.CommandText <-
            """INSERT INTO cka_layers
               VALUES (@p, @m, @v, @o, @layer, @type, @shape, @params, @count, @acc, @on, @src, @at, @enc)"""
        let names =
            [| "@p"
               "@m"
               "@v"
               "@o"
               "@layer"
               "@type"
               "@shape"
               "@params"
               "@count"
               "@acc"
               "@on"
               "@src"
               "@at"
               "@enc" |]
        let ps = names |> Array.map (fun n -> parameter insert n null)
        let at = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture)
        for l, encoding in layers do
            let values: obj[] =
                [| l.Probe
                   l.Model
                   l.Version
                   l.Ordinal
                   l.Layer
                   l.LayerType
                   ints l.OutputShape
                   l.Parameters
                   l.ParameterCount
                   option l.Accuracy
                   option l.TrainedOn
                   l.Source
                   at
                   blob encoding |]
            Array.iteri (fun i (v: obj) -> ps[i].Value <- (if isNull v then box DBNull.Value else v)) values
            insert.ExecuteNonQuery() |> ignore
        tx.Commit()
    with :? DbException as e ->
        raise (InputException(path, $"indexing {probe.Id}: {e.Message}", e))

let private text (r: DbDataReader) (i: int) = if r.IsDBNull i then None else Some(r.GetString i)
let private real (r: DbDataReader) (i: int) = if r.IsDBNull i then None else Some(r.GetDouble i)

/// Every probe set, in the order they were recorded.
let probes (connection: DbConnection) =
    use cmd = connection.CreateCommand()
    cmd.CommandText <-
        "SELECT id, spec, indices, preprocessing, seed, count, input_shape FROM cka_probes ORDER BY created_at, id"
    use r = cmd.ExecuteReader()
    [ while r.Read() do
          { ProbeRow.Id = r.GetString 0
            ProbeRow.Spec = r.GetString 1
            ProbeRow.Indices = r.GetString 2
            ProbeRow.Preprocessing = r.GetString 3
            ProbeRow.Seed = if r.IsDBNull 4 then None else Some(r.GetInt64 4)
            ProbeRow.Count = r.GetInt32 5
            ProbeRow.InputShape = parseInts (r.GetString 6) Int32.Parse } ]

/// Every indexed model per probe set.
let models (connection: DbConnection) =
    use cmd = connection.CreateCommand()
    cmd.CommandText <-
        """SELECT model, version, probe_id, CAST(count(*) AS INTEGER), max(accuracy), max(trained_on), max(source), max(indexed_at)
           FROM cka_layers GROUP BY probe_id, model, version ORDER BY probe_id, model, version"""
    use r = cmd.ExecuteReader()
    [ while r.Read() do
          { CkaModelRow.Model = r.GetString 0
            CkaModelRow.Version = r.GetString 1
            CkaModelRow.Probe = r.GetString 2
            CkaModelRow.Layers = r.GetInt32 3
            CkaModelRow.Accuracy = real r 4
            CkaModelRow.TrainedOn = text r 5
            CkaModelRow.Source = r.GetString 6
            CkaModelRow.IndexedAt = r.GetString 7 } ]

let private filtered (connection: DbConnection) (f: CkaFilter) =
    let cmd = connection.CreateCommand()
    let conditions =
        [ yield "probe_id = @probe"
          add cmd "@probe" f.Probe
          for column, name, value in
              [ "model", "@model", f.Model
                "version", "@version", f.Version
                "layer", "@layer", f.Layer
                "layer_type", "@type", f.LayerType
                "trained_on", "@on", f.TrainedOn ] do
              match value with
              | Some v ->
                  yield $"{column} = {name}"
                  add cmd name v
              | None -> ()
          match f.MinAccuracy with
          | Some a ->
              yield "accuracy >= @acc"
              add cmd "@acc" a
          | None -> () ]
    cmd.CommandText <-
        $"""SELECT probe_id, model, version, ordinal, layer, layer_type, output_shape, parameters, parameter_count,
                   accuracy, trained_on, source, encoding
            FROM cka_layers WHERE {String.Join(" AND ", conditions)} ORDER BY probe_id, model, version, ordinal"""
    cmd

let private readLayer (r: DbDataReader) =
    { CkaLayerRow.Probe = r.GetString 0
      CkaLayerRow.Model = r.GetString 1
      CkaLayerRow.Version = r.GetString 2
      CkaLayerRow.Ordinal = r.GetInt32 3
      CkaLayerRow.Layer = r.GetString 4
      CkaLayerRow.LayerType = r.GetString 5
      CkaLayerRow.OutputShape = parseInts (r.GetString 6) Int64.Parse
      CkaLayerRow.Parameters = r.GetString 7
      CkaLayerRow.ParameterCount = r.GetInt64 8
      CkaLayerRow.Accuracy = real r 9
      CkaLayerRow.TrainedOn = text r 10
      CkaLayerRow.Source = r.GetString 11 }

/// The layers filter matches with their encodings, blockRows at a time, streamed from one reader as the sequence is
/// enumerated.
let blocks (connection: DbConnection) (path: string) (filter: CkaFilter) (blockRows: int) =
    if blockRows < 1 then
        invalidArg "blockRows" $"blockRows is {blockRows}; it must be at least 1"
    seq {
        use cmd = filtered connection filter
        use r = cmd.ExecuteReader()
        let layers = ResizeArray<CkaLayerRow>()
        let mutable buffer: float32[] = [||]
        let mutable dimension = -1
        // A full block hands its buffer over and the next block gets a new one: no copy.
        let block () =
            let b =
                { CkaBlock.Layers = layers.ToArray()
                  CkaBlock.Encodings =
                    if layers.Count = blockRows then buffer else Array.sub buffer 0 (layers.Count * dimension)
                  CkaBlock.Dimension = dimension }
            layers.Clear()
            buffer <- [||]
            b
        while r.Read() do
            let bytes = r.GetFieldValue<byte[]> 12
            if dimension < 0 then
                dimension <- bytes.Length / sizeof<float32>
            if buffer.Length = 0 then
                buffer <- Array.zeroCreate (blockRows * dimension)
            if bytes.Length <> dimension * sizeof<float32> then
                raise (InputException(path, $"CKA layer {r.GetString 1}/{r.GetString 4} has a corrupt encoding"))
            Buffer.BlockCopy(bytes, 0, buffer, layers.Count * bytes.Length, bytes.Length)
            layers.Add(readLayer r)
            if layers.Count = blockRows then
                yield block ()
        if layers.Count > 0 then
            yield block ()
    }
