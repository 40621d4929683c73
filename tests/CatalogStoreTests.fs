/// The catalog on its two stores: which --db value picks which, schema upgrades and refusals alike on both, SQLite and
/// PostgreSQL giving the same answers for one set of files through every command that reads a catalog, and a server
/// that cannot be reached or refuses the credentials reported in one line, with nothing written.
module Hybrid.Tests.CatalogStoreTests

open System
open System.IO
open Expecto
open Hybrid.Analysis

let private execute (c: ICatalog) (sql: string) =
    use cmd = (c :?> DbCatalog.DbCatalog).Connection.CreateCommand()
    cmd.CommandText <- sql
    cmd.ExecuteScalar()

let private source name = { ModelSource.Path = name; ModelSource.Hash = "h-" + name }

/// Model files of every format the project reads: ONNX graphs and a real safetensors state dict.
let private files () =
    [ for n in [ "resnet18"; "squeezenet1_1"; "mobilenet_v2"; "vit_b_16" ] do
          yield sharedFile $"data/torchvision-architectures/{n}.onnx"
      yield sharedFile "models/cifar10-resnet20/model.safetensors"
      yield sharedFile "models/cifar10-resnet32/model.pt" ]

/// A command's output with the catalog location replaced, so that the outputs of two stores compare.
let private cli (db: string) (args: string list) =
    let code, out, err = CliTests.runCli (args @ [ "--db"; db ])
    Expect.equal code 0 $"""hybrid {String.concat " " args} (stderr: {err})"""
    out.Replace(db, "DB")

/// One line on stderr, exit code 1, nothing on stdout.
let private oneLine (expected: string) (code: int, out: string, err: string) =
    Expect.equal code 1 $"exit code (stderr: {err})"
    Expect.equal out "" "nothing on stdout"
    Expect.equal (err.Trim().Split('\n').Length) 1 $"one line: {err}"
    Expect.stringContains err expected "names the problem"

let private storeTests (store: CatalogStore) =
    [ testInCatalog store "a version 1 catalog is upgraded on open and keeps its models" (fun _ db ->
          (use c = Catalog.openOrCreate db
           Catalog.insert c (source "old") None CatalogTests.handmade |> ignore
           // What a catalog of version 1 held: no CKA index, no work queue.
           execute c "DROP TABLE cka_layers; DROP TABLE cka_probes; DROP TABLE work_queue" |> ignore
           execute c "DELETE FROM schema_version WHERE version = 2" |> ignore)
          use c = Catalog.openOrCreate db
          Expect.equal c.SchemaVersion 2 "upgraded to version 2"
          Expect.equal (Catalog.load c (Catalog.models c).Head.Id) CatalogTests.handmade "the model is intact"
          Expect.isEmpty (Catalog.ckaModels c) "the CKA index is there, empty"
          Expect.equal (Convert.ToInt64(execute c "SELECT count(*) FROM work_queue")) 0L "the queue is there, empty")
      testInCatalog store "a catalog of a newer schema is refused in one line and nothing is written" (fun _ db ->
          (use c = Catalog.openOrCreate db
           execute c "INSERT INTO schema_version VALUES (99)" |> ignore)
          let model = sharedFile "data/torchvision-architectures/resnet18.onnx"
          CliTests.runCli [ "extract"; model; "--db"; db ]
          |> oneLine "catalog schema 99 is newer than this build's (2); update Hybrid"
          let e = throwsOf<InputException>(fun () -> (Catalog.openOrCreate db).Dispose())
          Expect.stringContains e.Message "newer" "the API refuses it too"
          // Read the tables with the version row removed: no model arrived.
          use check =
              if store.Name = "sqlite" then
                  new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db}") :> Data.Common.DbConnection
              else
                  new Npgsql.NpgsqlConnection(db)
          check.Open()
          use cmd = check.CreateCommand()
          cmd.CommandText <- "SELECT count(*) FROM models"
          Expect.equal (Convert.ToInt64(cmd.ExecuteScalar())) 0L "no model written")
      testInCatalog store "a store holding other tables is not taken for a catalog" (fun _ db ->
          (use c = Catalog.openOrCreate db
           execute c "CREATE TABLE notes (text TEXT)" |> ignore
           execute c "DROP TABLE schema_version" |> ignore)
          let e = throwsOf<InputException>(fun () -> (Catalog.openOrCreate db).Dispose())
          Expect.stringContains e.Message "is not a Hybrid catalog" "names the problem") ]

let private agreementTests =
    testInTempDir "SQLite and PostgreSQL give the same extract, models, dedup, report and search output" (fun dir ->
        let outputs =
            [ for store in catalogStores ->
                  let db = store.NewCatalog(Directory.CreateDirectory(Path.Combine(dir, store.Name)).FullName)
                  let extract = cli db ([ "extract" ] @ files () @ [ "--json" ])
                  let dedup = cli db [ "dedup"; "--strategy"; "both"; "--json" ]
                  let report = Path.Combine(dir, store.Name, "report")
                  cli db [ "analyze"; "--out"; report ] |> ignore
                  let csv name = File.ReadAllText(Path.Combine(report, name))
                  use c = Catalog.openOrCreate db
                  let models = Catalog.models c |> List.map (fun m -> { m with ExtractedAt = "" })
                  let archs = models |> List.map (fun m -> Catalog.load c m.Id)
                  store.Name, (extract, dedup, csv "metrics.csv", csv "layers.csv", models, archs, Catalog.counts c) ]
        let _, sqlite = outputs.Head
        let _, postgres = outputs[1]
        let e1, d1, m1, l1, models1, a1, c1 = sqlite
        let e2, d2, m2, l2, models2, a2, c2 = postgres
        Expect.equal e2 e1 "extract --json"
        Expect.equal d2 d1 "dedup --json"
        Expect.equal m2 m1 "metrics.csv"
        Expect.equal l2 l1 "layers.csv"
        Expect.equal models2 models1 "the model rows"
        Expect.equal a2 a1 "every stored architecture"
        Expect.equal c2 c1 "rows per table"
        Expect.equal models1.Length 6 "every file stored")

let private postgresTests =
    [ test "the --db value picks the store: a path is SQLite, a URI or a connection string PostgreSQL" {
          for location in [ "hybrid.db"; "/data/catalog.db"; "c:\\x\\h.db"; "my=odd.db" ] do
              Expect.isFalse (Catalog.isPostgres location) location
          for location in
              [ "postgres://u:p@db.example:5432/hybrid"
                "postgresql://db/hybrid"
                "Host=db;Database=hybrid;Username=u"
                "Server=db; Port=5433" ] do
              Expect.isTrue (Catalog.isPostgres location) location
          let b = PostgresCatalog.settings "postgres://al%40ice:s%3Acret@db.example:6543/cat?sslmode=require"
          Expect.equal (b.Host, b.Port, b.Database) ("db.example", 6543, "cat") "host, port, database"
          Expect.equal (b.Username, b.Password) ("al@ice", "s:cret") "user and password, unescaped"
          Expect.equal b.SslMode Npgsql.SslMode.Require "a query option"
          Expect.equal (PostgresCatalog.describe b) "postgres://al@ice@db.example:6543/cat" "shown without the password"
      }
      testInTempDir "an unreachable server, wrong credentials and an unknown option: one line each, nothing written"
      <| fun dir ->
          let model = sharedFile "data/torchvision-architectures/resnet18.onnx"
          let closedPort =
              use l = new Net.Sockets.TcpListener(Net.IPAddress.Loopback, 0)
              l.Start()
              (l.LocalEndpoint :?> Net.IPEndPoint).Port
          CliTests.runCli [ "extract"; model; "--db"; $"postgres://postgres@127.0.0.1:{closedPort}/x" ]
          |> oneLine $"postgres://postgres@127.0.0.1:{closedPort}/x: cannot reach the server at 127.0.0.1:{closedPort}"
          let db = freshPostgresDatabase ()
          let name = (Npgsql.NpgsqlConnectionStringBuilder db).Database
          let port = postgresServer.Value.Port
          CliTests.runCli [ "extract"; model; "--db"; $"postgres://postgres:wrong@127.0.0.1:{port}/{name}" ]
          |> oneLine "the server refused the credentials of user 'postgres'"
          CliTests.runCli
              [ "dedup"; "--strategy"; "name"; "--db"; $"postgres://postgres@127.0.0.1:{port}/{name}?colour=blue" ]
          |> oneLine "unknown connection option 'colour'"
          use connection = new Npgsql.NpgsqlConnection(db)
          connection.Open()
          use cmd = connection.CreateCommand()
          cmd.CommandText <- "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
          Expect.equal (Convert.ToInt64(cmd.ExecuteScalar())) 0L "no table created"
          let right = $"postgres://postgres:{postgresPassword}@127.0.0.1:{port}/{name}"
          let code, _, err = CliTests.runCli [ "extract"; model; "--db"; right ]
          Expect.equal code 0 $"the right password over TCP works (stderr: {err})" ]

[<Tests>]
let tests =
    testList "catalog stores" [ onEveryStore "schema" storeTests; agreementTests; testList "postgresql" postgresTests ]
