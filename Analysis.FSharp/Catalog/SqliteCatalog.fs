/// The embedded catalog: one SQLite file, the default. The tables and queries are DbCatalog's; this file names SQLite's
/// dialect and opens the file.
module Hybrid.Analysis.SqliteCatalog

open Microsoft.Data.Sqlite

/// SQLite's spelling of the catalog's schema.
let dialect: CatalogSchema.Dialect =
    { Name = "SQLite"
      Id = "INTEGER PRIMARY KEY"
      Blob = "BLOB"
      Real = "REAL"
      Keyed = " WITHOUT ROWID"
      CountTables = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
      CountTable = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = @name"
      Lock = None
      // SQLite binds each named parameter by a linear search of the statement's names, so a statement costs the
      // square of its parameter count; in-process, it has no round trip to save. 16 rows ran 4x faster than 200.
      RowsPerInsert = 16 }

/// Opens the SQLite catalog at path, creating the file and its tables when it does not exist and upgrading an older
/// catalog. Refuses (InputException) a file that is not SQLite, a SQLite file that is not a catalog, and a catalog
/// with a newer schema.
let openOrCreate (path: string) =
    let builder = SqliteConnectionStringBuilder(DataSource = path, Pooling = false)
    let connection = new SqliteConnection(builder.ToString())
    try
        connection.Open()
        use pragmas = connection.CreateCommand()
        pragmas.CommandText <- "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL"
        pragmas.ExecuteNonQuery() |> ignore
    with :? SqliteException as e ->
        connection.Dispose()
        raise (Hybrid.Core.Nn.InputException(path, $"cannot open the catalog: {e.Message}", e))
    DbCatalog.openConnection path connection dialect
