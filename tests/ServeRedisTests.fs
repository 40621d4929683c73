/// `hybrid serve --redis`: the response cache in a real Redis server (Debian's redis-server, started here on a free
/// loopback port): the same answers as with the in-memory cache, stored in Redis with the cache's expiry, and a server
/// that keeps answering, uncached, when Redis stops mid-run, says so once in its log and caches again once Redis is back.
module Hybrid.Tests.ServeRedisTests

open System
open System.Diagnostics
open Expecto
open StackExchange.Redis
open Hybrid.Cli.Server
open Hybrid.Tests.ServeTests

/// A Redis cache on redis with its log lines collected.
let private redisCache (redis: RedisServer.Redis) =
    let log = Collections.Concurrent.ConcurrentQueue<string>()
    RedisResponseCache.Connect(redis.Endpoint, "hybrid:test:", log.Enqueue), log

let private sameAnswers =
    test "the same answers with the memory cache and with Redis, stored in Redis with the cache's expiry" {
        use redis = new RedisServer.Redis()
        let cache, log = redisCache redis
        withServer (new MemoryResponseCache(10_000_000L)) (fun memory ->
            withServer cache (fun inRedis ->
                for url in urls do
                    let fromMemory = [ memory.Get url; memory.Get url ]
                    let fromRedis = [ inRedis.Get url; inRedis.Get url ]
                    Expect.equal
                        [ for status, _, state in fromRedis -> status, state ]
                        [ 200, "miss"; 200, "hit" ]
                        $"{url}: Redis computes, then serves its copy"
                    Expect.equal
                        [ for _, body, _ in fromRedis -> body ]
                        [ for _, body, _ in fromMemory -> body ]
                        $"{url}: the same bodies as the memory cache's"))
        use client = ConnectionMultiplexer.Connect redis.Endpoint
        let server = client.GetServer redis.Endpoint
        let keys = server.Keys(pattern = RedisValue "hybrid:test:*") |> Seq.toList
        Expect.equal keys.Length urls.Length "one Redis key per cached request"
        for key in keys do
            let ttl = client.GetDatabase().KeyTimeToLive key
            Expect.isTrue ttl.HasValue $"{key}: expires"
            Expect.isTrue
                (ttl.Value > TimeSpan.Zero && ttl.Value <= TimeSpan.FromMinutes 10.0)
                $"{key}: expires within the server's 10 minutes ({ttl.Value})"
        Expect.isEmpty (List.ofSeq log) $"nothing logged while Redis answers ({List.ofSeq log})"
    }

let private redisStops =
    test "Redis stopped mid-run: every request still answered, uncached, one log line; cached again once it is back" {
        use redis = new RedisServer.Redis()
        let cache, log = redisCache redis
        withServer cache (fun server ->
            let before = [ for url in urls -> ok server url ]
            redis.Stop()
            for round in 1..3 do
                for url, expected in List.zip urls before do
                    let status, body, state = server.Get url
                    Expect.equal status 200 $"{url} (round {round}, Redis stopped): status (body {body})"
                    Expect.equal body expected $"{url} (round {round}, Redis stopped): the same answer"
                    Expect.equal state "miss" $"{url} (round {round}, Redis stopped): computed"
            let unreachable = log |> Seq.filter (fun l -> l.Contains "unreachable") |> Seq.toList
            Expect.equal unreachable.Length 1 $"one log line for the outage ({List.ofSeq log})"
            Expect.stringContains unreachable.Head redis.Endpoint "the line names the Redis server"
            Expect.isFalse (unreachable.Head.Contains "   at ") "a message, not a stack trace"
            redis.Start()
            // The client reconnects in the background; wait (bounded) until an answer is served from Redis again.
            let url = urls.Head
            let clock = Stopwatch.StartNew()
            let mutable cachedAgain = false
            while not cachedAgain && clock.Elapsed < TimeSpan.FromSeconds 60.0 do
                server.Get url |> ignore
                let _, body, state = server.Get url
                cachedAgain <- state = "hit" && body = before.Head
                if not cachedAgain then
                    Threading.Thread.Sleep 200
            Expect.isTrue cachedAgain "answers are cached in Redis again after it restarts"
            Expect.equal
                (log |> Seq.filter (fun l -> l.EndsWith ": back; caching again") |> Seq.length)
                1
                $"one log line for the return ({List.ofSeq log})")
    }

[<Tests>]
let tests = testList "serve redis" [ sameAnswers; redisStops ]
