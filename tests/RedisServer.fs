/// Debian's `redis-server`, started by the tests themselves: on a free loopback port, in a temporary folder, with
/// persistence off, so that no test depends on a Redis someone else runs or leaves anything behind.
module Hybrid.Tests.RedisServer

open System
open System.Diagnostics
open System.IO
open System.Net
open System.Net.Sockets
open System.Text
open Expecto

let private executable = "/usr/bin/redis-server"

let private freePort () =
    let listener = new TcpListener(IPAddress.Loopback, 0)
    listener.Start()
    let port = (listener.LocalEndpoint :?> IPEndPoint).Port
    listener.Stop()
    port

/// Whether a Redis server answers PING on the loopback port.
let private answers (port: int) =
    try
        use client = new TcpClient()
        client.Connect(IPAddress.Loopback, port)
        let stream = client.GetStream()
        stream.ReadTimeout <- 1000
        let ping = Encoding.ASCII.GetBytes "PING\r\n"
        stream.Write(ping, 0, ping.Length)
        let reply = Array.zeroCreate<byte> 16
        let n = stream.Read(reply, 0, reply.Length)
        Encoding.ASCII.GetString(reply, 0, n).StartsWith("+PONG", StringComparison.Ordinal)
    with
    | :? SocketException
    | :? IOException -> false

/// A redis-server process of our own, started at once; Stop and Start again keep its port. Disposing stops it and
/// removes its folder.
type Redis() =
    do
        if not (File.Exists executable) then
            failtestf
                "%s is missing: install Debian's redis-server (apt-get install -y redis-server; ./test does it) to run the Redis cache tests"
                executable
    let dir = Directory.CreateTempSubdirectory("hybrid-redis-").FullName
    let port = freePort ()
    let mutable proc: Process option = None

    let start () =
        let info = ProcessStartInfo(executable, UseShellExecute = false)
        for a in
            [ "--port"
              string port
              "--bind"
              "127.0.0.1"
              "--dir"
              dir
              "--save"
              ""
              "--appendonly"
              "no"
              "--daemonize"
              "no"
              "--loglevel"
              "warning"
              "--logfile"
              Path.Combine(dir, "redis.log") ] do
            info.ArgumentList.Add a
        let p = Process.Start info
        proc <- Some p
        let deadline = Stopwatch.StartNew()
        while not (answers port) do
            if p.HasExited || deadline.Elapsed > TimeSpan.FromSeconds 30.0 then
                let log = Path.Combine(dir, "redis.log")
                let text = if File.Exists log then File.ReadAllText log else ""
                failtestf "redis-server on port %d did not start (exit %b): %s" port p.HasExited text
            Threading.Thread.Sleep 50

    do start ()

    /// HOST:PORT, as `hybrid serve --redis` takes it.
    member _.Endpoint = $"127.0.0.1:{port}"

    /// Stops the server (as a crash would: no shutdown handshake with its clients).
    member _.Stop() =
        match proc with
        | Some p ->
            p.Kill()
            p.WaitForExit()
            p.Dispose()
            proc <- None
        | None -> ()

    /// Starts the server again on the same port, empty.
    member _.Start() =
        if proc.IsNone then
            start ()

    interface IDisposable with
        member this.Dispose() =
            this.Stop()
            Directory.Delete(dir, true)
