/// The HTTP API's response cache: a JSON body per request (path and query) for a while. The interface is all the server
/// sees, so an external store (Redis) can stand in for the in-process one.
namespace Hybrid.Cli.Server

open System
open System.Threading.Tasks
open Microsoft.Extensions.Caching.Memory

/// Response bodies by request key, each kept until its expiry.
type IResponseCache =
    inherit IDisposable

    /// What the cache holds, for the health endpoint ("memory", "none", ...).
    abstract Name: string

    /// The body stored under key, unless it is missing or expired. Asynchronous, so that a request waiting for an
    /// external store holds no thread: blocked threads starve the pool that the store's own replies are read on.
    abstract TryGetAsync: key: string -> Task<string option>

    /// Stores body under key for ttl.
    abstract Set: key: string * body: string * ttl: TimeSpan -> unit

/// A cache that keeps nothing: every request is computed.
type NoResponseCache() =
    interface IResponseCache with
        member _.Name = "none"
        member _.TryGetAsync _ = Task.FromResult None
        member _.Set(_, _, _) = ()
        member _.Dispose() = ()

/// The in-process cache, bounded to maxChars characters of bodies in all (when full, expired and then least recently
/// used bodies are compacted away, and a new body is kept once there is room).
type MemoryResponseCache(maxChars: int64) =
    let cache = new MemoryCache(MemoryCacheOptions(SizeLimit = Nullable maxChars))

    interface IResponseCache with
        member _.Name = "memory"

        member _.TryGetAsync key =
            match cache.TryGetValue key with
            | true, (:? string as body) -> Task.FromResult(Some body)
            | _ -> Task.FromResult None

        member _.Set(key, body, ttl) =
            let entry =
                MemoryCacheEntryOptions(
                    AbsoluteExpirationRelativeToNow = Nullable ttl,
                    Size = Nullable(int64 body.Length)
                )
            cache.Set(key, body, entry) |> ignore

        member _.Dispose() = cache.Dispose()
