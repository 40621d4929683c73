/// The stored layers a search scans, as EncodingIndex blocks ready to search. Reading gigabytes of encodings out of
/// SQLite and copying them into an index takes several times longer than scanning them, so a process that searches
/// repeatedly (hybrid serve, a script, a benchmark) keeps the blocks of its last filter in memory, joined into one index,
/// while the catalog is unchanged: the file keeps its size and write time, and a connection of its own to it sees the same SQLite data_version,
/// which moves whenever any other connection, in this process or another, commits a write. Catalogs that are not a SQLite file (a server), and indexes
/// larger than a quarter of the memory available, are read block by block on every search.
module Hybrid.Analysis.SearchBlocks

open System
open System.Collections.Generic
open System.IO
open Microsoft.Data.Sqlite
open Hybrid.Core.Gpu

/// One block of stored layers: its index (each row's group is its model's id in the Groups handed out with it) and the
/// stored layer of each row.
type Block = { Index: EncodingIndex; Layers: CkaLayerRow[] }

/// Size and last write time of a catalog file, its -wal and its -journal: a file replaced by another at the same path
/// shows here (a connection would keep reading the old one), while data_version catches writes closer together than the
/// file system's clock tick.
let private stamp (path: string) =
    [ for suffix in [ ""; "-wal"; "-journal" ] ->
          let file = FileInfo(path + suffix)
          if file.Exists then file.Length, file.LastWriteTimeUtc.Ticks else -1L, 0L ]

/// A connection that only reads PRAGMA data_version of one catalog file, opened when the file had this stamp.
type private Watch(path: string, stamp: (int64 * int64) list) =
    let connection = new SqliteConnection($"Data Source={path};Mode=ReadWrite;Pooling=False")
    do connection.Open()
    member _.Path = path
    member _.Stamp = stamp

    /// A value that changes whenever another connection has committed a write since the last call.
    member _.Version() =
        use cmd = connection.CreateCommand()
        cmd.CommandText <- "PRAGMA data_version"
        cmd.ExecuteScalar() :?> int64

    interface IDisposable with
        member _.Dispose() = connection.Dispose()

/// The full path of a catalog stored in a file (SQLite), None for a server.
let private fileOf (catalog: ICatalog) =
    if File.Exists catalog.Location then Some(Path.GetFullPath catalog.Location) else None

type private Models = { Version: int64; Rows: CkaModelRow list }

type private Entry =
    { Version: int64
      Device: Device
      Filter: CkaFilter
      BlockRows: int
      Groups: Dictionary<string, int>
      Blocks: Block list }

// The version is read before the catalog is: a write during the read moves it, so the next call reads again.
let private gate = obj ()
let mutable private watch: Watch option = None
let mutable private models: Models option = None
let mutable private blocks: Entry option = None

let private release (entry: Entry option) =
    entry |> Option.iter (fun e -> e.Blocks |> List.iter (fun b -> b.Index.Dispose()))

/// The catalog file's current version: the watch's data_version while the file keeps its stamp; otherwise everything kept
/// is dropped and a new watch starts.
let private versionOf (path: string) =
    let now = stamp path
    match watch with
    | Some w when w.Path = path && w.Stamp = now -> w.Version()
    | _ ->
        watch |> Option.iter (fun w -> (w :> IDisposable).Dispose())
        release blocks
        blocks <- None
        models <- None
        let w = new Watch(path, now)
        watch <- Some w
        w.Version()

/// Every indexed model (Catalog.ckaModels), from memory while the catalog is unchanged.
let indexedModels (catalog: ICatalog) =
    match fileOf catalog with
    | None -> Catalog.ckaModels catalog
    | Some path ->
        lock gate (fun () ->
            let now = versionOf path
            match models with
            | Some m when m.Version = now -> m.Rows
            | _ ->
                let rows = Catalog.ckaModels catalog
                models <- Some { Version = now; Rows = rows }
                rows)

/// Model ids for row groups, one per model name in the order of the indexed models; names met later get the next ids.
let private groupsOf (rows: CkaModelRow list) =
    let groups = Dictionary<string, int>()
    for m in rows do
        groups.TryAdd(m.Model, groups.Count) |> ignore
    groups

/// The group id of a model: its id when it has one, else a new one.
let groupOf (groups: Dictionary<string, int>) (model: string) =
    match groups.TryGetValue model with
    | true, g -> g
    | _ ->
        groups[model] <- groups.Count
        groups[model]

let private build (device: Device) (groups: Dictionary<string, int>) (b: CkaBlock) =
    let ids = b.Layers |> Array.map (fun l -> groupOf groups l.Model)
    { Index = EncodingIndex.Build(device, ReadOnlySpan b.Encodings, b.Layers.Length, b.Dimension, ReadOnlySpan ids)
      Layers = b.Layers }

/// Calls scan with the model groups and, in catalog order, every block of the stored layers filter matches, blockRows
/// rows each; bytes is what their encodings take (it decides whether they are kept). The blocks belong to this module:
/// scan must not keep them.
let withBlocks
    (device: Device)
    (catalog: ICatalog)
    (filter: CkaFilter)
    (blockRows: int)
    (bytes: int64)
    (scan: Dictionary<string, int> -> seq<Block> -> 'a)
    =
    let streamed () =
        let groups = groupsOf (indexedModels catalog)
        scan
            groups
            (seq {
                for b in Catalog.ckaBlocks catalog filter blockRows do
                    use block = (build device groups b).Index
                    yield { Index = block; Layers = b.Layers }
            })
    match fileOf catalog with
    | Some path when bytes <= GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4L ->
        // Held through the scan, so that no other search disposes the blocks under it.
        lock gate (fun () ->
            let now = versionOf path
            let entry =
                match blocks with
                | Some e when
                    e.Version = now
                    && obj.ReferenceEquals(e.Device, device)
                    && e.Filter = filter
                    && e.BlockRows = blockRows
                    ->
                    e
                | _ ->
                    release blocks
                    blocks <- None
                    let groups = groupsOf (indexedModels catalog)
                    let read = [ for b in Catalog.ckaBlocks catalog filter blockRows -> build device groups b ]
                    // One index over every block: the search then prunes with the best scores of all the rows, not of
                    // one block at a time (per block, a top-k list is filled from scratch and far more rows pass).
                    let read =
                        if read.Length < 2 then
                            read
                        else
                            [ { Index = EncodingIndex.Join [| for b in read -> b.Index |]
                                Layers = read |> Array.ofList |> Array.collect _.Layers } ]
                    let e =
                        { Version = now
                          Device = device
                          Filter = filter
                          BlockRows = blockRows
                          Groups = groups
                          Blocks = read }
                    blocks <- Some e
                    e
            scan entry.Groups entry.Blocks)
    | _ -> streamed ()

/// Frees the blocks kept between searches (the next search reads the catalog again).
let clear () =
    lock gate (fun () ->
        release blocks
        blocks <- None
        models <- None
        watch |> Option.iter (fun w -> (w :> IDisposable).Dispose())
        watch <- None)
