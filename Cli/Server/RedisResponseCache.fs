/// The response cache in a Redis server (`hybrid serve --redis HOST:PORT`), through StackExchange.Redis. A cache is an
/// optimisation, never a dependency: when Redis stops answering, requests are computed uncached, the outage is logged
/// once (and its end once), and no request fails or waits for Redis beyond a short timeout.
namespace Hybrid.Cli.Server

open System
open System.Threading
open System.Threading.Tasks
open StackExchange.Redis
open Hybrid.Analysis

/// Response bodies as Redis strings under prefix + key, each with Redis's own expiry (SET ... PX ttl), so that expiry
/// is the same as the in-memory cache's and several servers may share one Redis.
type RedisResponseCache
    private (endpoint: string, connection: ConnectionMultiplexer, prefix: string, log: string -> unit) =
    // 1 while Redis is known to be unreachable: the outage is logged on the change, not per request.
    let mutable down = 0

    let unreachable (problem: string) =
        if Interlocked.Exchange(&down, 1) = 0 then
            log $"redis {endpoint}: unreachable ({problem}); answering uncached until it is back"

    let reachable () =
        if Interlocked.Exchange(&down, 0) = 1 then
            log $"redis {endpoint}: back; caching again"

    /// How long a Redis call may take before the request is answered without it: long enough for a loaded machine, where
    /// 1 s was seen to pass for a 100 kB answer, short against the computing it saves.
    static member Timeout = TimeSpan.FromSeconds 3.0

    /// Connects to the Redis server at endpoint (HOST:PORT); one that does not answer now is the user's error (one
    /// line). Keys are prefix + the request's key; log gets the outage messages.
    static member Connect(endpoint: string, prefix: string, log: string -> unit) =
        let options =
            try
                ConfigurationOptions.Parse endpoint
            with :? ArgumentException as e ->
                Input.fail "serve: --redis %s: %s (HOST:PORT, e.g. 127.0.0.1:6379)" endpoint e.Message
        if options.EndPoints.Count <> 1 then
            Input.fail "serve: --redis %s: name one server as HOST:PORT" endpoint
        let timeout = int RedisResponseCache.Timeout.TotalMilliseconds
        options.ConnectTimeout <- 5000
        options.SyncTimeout <- timeout
        options.AsyncTimeout <- timeout
        options.AbortOnConnectFail <- true
        // Commands issued while disconnected fail at once rather than queueing until the timeout.
        options.BacklogPolicy <- BacklogPolicy.FailFast
        let connection =
            try
                ConnectionMultiplexer.Connect options
            with :? RedisConnectionException as e ->
                let first = e.Message.Split('\n').[0].Trim()
                Input.fail "serve: --redis %s: cannot connect (%s)" endpoint first
        new RedisResponseCache(endpoint, connection, prefix, log)

    /// Runs a Redis call, or gives fallback when Redis is disconnected or fails: a request never fails for the cache, and
    /// the returned task never faults.
    member private _.Attempt<'T>(fallback: 'T, call: IDatabase -> Task<'T>) : Task<'T> =
        task {
            if not connection.IsConnected then
                unreachable "not connected"
                return fallback
            else
                try
                    let! result = call (connection.GetDatabase())
                    reachable ()
                    return result
                with
                | :? RedisConnectionException as e ->
                    unreachable $"connection: {e.FailureType}"
                    return fallback
                | :? TimeoutException ->
                    unreachable $"no answer in {RedisResponseCache.Timeout.TotalSeconds} s"
                    return fallback
                | :? RedisException as e ->
                    unreachable (e.Message.Split('\n').[0])
                    return fallback
        }

    interface IResponseCache with
        member _.Name = "redis"

        member this.TryGetAsync key =
            this.Attempt(
                None,
                fun db ->
                    task {
                        let! value = db.StringGetAsync(RedisKey(prefix + key))
                        return if value.IsNull then None else Some(string value)
                    }
            )

        member this.Set(key, body, ttl) =
            // Sent without waiting for the reply (the task completes at once): the answer is not held up, and a GET that
            // follows on the same connection is served after it.
            this.Attempt(
                (),
                fun db ->
                    task {
                        let! _ =
                            db.StringSetAsync(
                                RedisKey(prefix + key),
                                RedisValue body,
                                Nullable ttl,
                                When.Always,
                                CommandFlags.FireAndForget
                            )
                        return ()
                    }
            )
            |> ignore

        member _.Dispose() = connection.Dispose()
