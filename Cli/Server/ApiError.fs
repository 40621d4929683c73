/// How the HTTP API refuses a request: an exception carrying the status code and the message of the JSON body
/// `{"error": "..."}` (400 for bad parameters and ids that are not plain names, 404 for what the index does not hold,
/// 413 and 415 for uploads too large or of an unknown format), and the check every id from a path or query passes.
module Hybrid.Cli.Server.ApiError

open System

/// A request the API refuses: its status code and the message of its JSON body.
exception ApiError of status: int * message: string

/// Refuses the request with status and message.
let fail (status: int) (message: string) = raise (ApiError(status, message))

/// An id from a path or query: a plain name, never a path (no "..", slash, backslash or control character).
let id (what: string) (value: string) =
    if String.IsNullOrWhiteSpace value then
        fail 400 $"{what} is empty"
    if value.Length > 256 then
        fail 400 $"{what} is longer than 256 characters"
    if value.Contains ".." || value.IndexOfAny [| '/'; '\\' |] >= 0 || Seq.exists Char.IsControl value then
        fail 400 $"{what} {value} is not a plain name (no .., / or \\)"
    value
