/// The JSON form of every command's result: the result record serialised, its fields named in snake case
/// (LowerBound -> lower_bound), so the document's shape is the record's type. Dictionaries keep their keys as given.
module Hybrid.Analysis.Json

open System.Text.Json

let private options = JsonSerializerOptions(PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower)

/// One line of JSON for a result record.
let serialize (result: 'T) = JsonSerializer.Serialize(result, options)
