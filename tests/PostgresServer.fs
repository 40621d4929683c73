/// A private PostgreSQL server for the tests: initdb and pg_ctl run as the `postgres` user (the tests run as root) on a
/// data folder, a socket folder and a loopback port of their own, started on first use and stopped when the tests
/// exit (a test that restarts its server starts one of its own with `startServer`); and the catalog stores every
/// catalog test runs on, so that SQLite and PostgreSQL answer the same tests.
[<AutoOpen>]
module Hybrid.Tests.PostgresServer

open System
open System.IO
open System.Net
open System.Net.Sockets
open Expecto

/// The password of the server's superuser `postgres` over TCP (the socket trusts local users).
let postgresPassword = "hybrid-test"

// Debian installs each major version's server under /usr/lib/postgresql/N/bin, outside PATH.
let private binaries =
    lazy
        (let found =
            if Directory.Exists "/usr/lib/postgresql" then
                Directory.GetDirectories "/usr/lib/postgresql"
                |> Array.map (fun d -> Path.Combine(d, "bin"))
                |> Array.filter (fun b -> File.Exists(Path.Combine(b, "pg_ctl")))
                |> Array.sortBy (fun b -> Version.TryParse(Path.GetFileName(Path.GetDirectoryName b)) |> snd)
            else
                [||]
         if found.Length = 0 then
             failwith
                 "tests: no PostgreSQL server under /usr/lib/postgresql/*/bin (./test installs Debian's postgresql)"
         Array.last found)

/// Runs a PostgreSQL program as the postgres user; fails the test with its output when it fails.
let private asPostgres (program: string) (args: string list) =
    let code, out, err =
        runProcess "runuser" "/" 120 ([ "-u"; "postgres"; "--"; Path.Combine(binaries.Value, program) ] @ args)
    if code <> 0 then
        failwithf "tests: %s %s failed (%d): %s%s" program (String.concat " " args) code out err

let private freePort () =
    use l = new TcpListener(IPAddress.Loopback, 0)
    l.Start()
    (l.LocalEndpoint :?> IPEndPoint).Port

/// The running server: its folder (data in data/, the socket beside it) and port.
type Server = { Folder: string; Port: int }

let private pgCtl (s: Server) (action: string list) =
    asPostgres "pg_ctl" ([ "-D"; Path.Combine(s.Folder, "data"); "-l"; Path.Combine(s.Folder, "log"); "-w" ] @ action)

/// Stops a server at once and removes its folder; nothing when it is already gone.
let stopServer (s: Server) =
    if Directory.Exists s.Folder then
        try
            pgCtl s [ "-m"; "immediate"; "stop" ]
        finally
            Directory.Delete(s.Folder, true)

let private start (s: Server) =
    pgCtl
        s
        [ "-o"
          $"-k {s.Folder} -p {s.Port} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
          "start" ]

/// A new server of its own (initdb on a new temporary folder, a free port), started now; the first of `stopServer`
/// and the test program's exit stops it and removes its folder.
let startServer () =
    let folder = Directory.CreateTempSubdirectory("hybrid-pg-").FullName
    let server = { Folder = folder; Port = freePort () }
    let pwfile = Path.Combine(folder, "pw")
    File.WriteAllText(pwfile, postgresPassword)
    let code, _, err = runProcess "chown" "/" 30 [ "-R"; "postgres:postgres"; folder ]
    if code <> 0 then
        failwithf "tests: chown postgres %s failed: %s" folder err
    asPostgres
        "initdb"
        [ "-D"
          Path.Combine(folder, "data")
          "-U"
          "postgres"
          "--auth-local=trust"
          "--auth-host=scram-sha-256"
          $"--pwfile={pwfile}"
          "-E"
          "UTF8"
          "--no-sync" ]
    start server
    AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> stopServer server)
    server

/// The server most tests share, started on first use.
let postgresServer = lazy (startServer ())

/// Stops a server at once (as a crash would) and starts it again.
let restartServer (s: Server) =
    pgCtl s [ "-m"; "immediate"; "stop" ]
    start s

/// The Npgsql connection string of a database on a server, through its socket.
let databaseOn (s: Server) (name: string) = $"Host={s.Folder};Port={s.Port};Username=postgres;Database={name}"

/// The Npgsql connection string of a database on the shared server.
let postgresDatabase (name: string) = databaseOn postgresServer.Value name

let private created = ref 0

/// A new empty database on a server, as the Npgsql connection string a --db takes.
let freshDatabaseOn (s: Server) =
    let name = $"t{Threading.Interlocked.Increment created}_{Guid.NewGuid():N}".Substring(0, 24)
    use connection = new Npgsql.NpgsqlConnection(databaseOn s "postgres")
    connection.Open()
    use cmd = connection.CreateCommand()
    cmd.CommandText <- $"CREATE DATABASE {name}"
    cmd.ExecuteNonQuery() |> ignore
    databaseOn s name

/// A new empty database on the shared server.
let freshPostgresDatabase () = freshDatabaseOn postgresServer.Value

/// A store the catalog tests run on: its name and a new empty catalog's location, given a temporary folder.
type CatalogStore = { Name: string; NewCatalog: string -> string }

/// A test given a temporary folder and a new, empty catalog of the store (its location), made for that folder.
let testInCatalog (store: CatalogStore) (name: string) (body: string -> string -> unit) =
    testInTempDir name (fun dir -> body dir (store.NewCatalog dir))

/// SQLite (a file in the folder) and PostgreSQL (a new database on the private server).
let catalogStores =
    [ { Name = "sqlite"; NewCatalog = fun dir -> Path.Combine(dir, "t.db") }
      { Name = "postgresql"; NewCatalog = fun _ -> freshPostgresDatabase () } ]

/// The same tests once per catalog store, each list named after its store.
let onEveryStore (name: string) (tests: CatalogStore -> Test list) =
    testList name [ for store in catalogStores -> testList store.Name (tests store) ]
