/// The vocabulary of n-gram terms a classifier reads, and the scaled sparse vectors it turns a model's term counts
/// into. Made from the training models only (a term must occur in at least `MinDocuments` of them) and saved beside
/// the classifier, so that a model checked later is read with the same columns.
module Hybrid.Analysis.Naming.Vocabulary

open System
open System.Collections.Generic
open Hybrid.Core.Nn

/// How counts become feature values.
type Scaling =
    /// The raw counts (DARA's).
    | Counts
    /// log(1 + count): a long repeated block weighs less against the rare terms that name a family.
    | Log
    /// scikit-learn's TfidfTransformer defaults: count x (ln((1 + n) / (1 + df)) + 1), each row scaled to unit length.
    | TfIdf

/// Each scaling with its names: the first is the one written; the others are read too.
let private scalings = [ Counts, [ "count"; "counts" ]; Log, [ "log" ]; TfIdf, [ "tfidf"; "tf-idf" ] ]

/// The scaling for its name (count, log, tfidf).
let parseScaling (text: string) = Hybrid.Analysis.Input.parseChoice "--scaling" "scaling" scalings text

/// The scaling's name, as parseScaling reads it.
let scalingName (scaling: Scaling) = Hybrid.Analysis.Input.choiceName scalings scaling

/// One model's features: column indices in increasing order and their values.
type SparseVector = { Indices: int[]; Values: float32[] }

type Vocabulary =
    {
        /// Feature families and scaling as chosen at training time.
        Features: NGrams.Options
        Scaling: Scaling
        MinDocuments: int
        /// The terms, in ordinal order; a term's index is its column.
        Terms: string[]
        /// How many training models hold each term.
        DocumentFrequency: int[]
        /// How many training models the vocabulary was made from.
        Documents: int
    }

/// The vocabulary of the training models' term counts: every term held by at least minDocuments of them. An empty
/// result is the user's problem (too few models, or a minimum above their number) and raises InputException.
let build
    (features: NGrams.Options)
    (scaling: Scaling)
    (minDocuments: int)
    (documents: IReadOnlyDictionary<string, int> list)
    =
    if minDocuments < 1 then
        raise (InputException("--min-df", $"{minDocuments} must be at least 1"))
    let df = Dictionary<string, int>(StringComparer.Ordinal)
    for d in documents do
        for term in d.Keys do
            df[term] <-
                (match df.TryGetValue term with
                 | true, c -> c + 1
                 | _ -> 1)
    let terms =
        df
        |> Seq.filter (fun kv -> kv.Value >= minDocuments)
        |> Seq.map _.Key
        |> Seq.sortWith (fun a b -> String.CompareOrdinal(a, b))
        |> Array.ofSeq
    if terms.Length = 0 then
        raise (
            InputException(
                "vocabulary",
                $"empty: no n-gram occurs in {minDocuments} or more of the {documents.Length} training models"
            )
        )
    { Features = features
      Scaling = scaling
      MinDocuments = minDocuments
      Terms = terms
      DocumentFrequency = terms |> Array.map (fun t -> df[t])
      Documents = documents.Length }

/// The scaled vector of one model's term counts; terms outside the vocabulary are left out.
let vectorise (vocabulary: Vocabulary) =
    let index = Dictionary<string, int>(StringComparer.Ordinal)
    vocabulary.Terms |> Array.iteri (fun i t -> index[t] <- i)
    let n = float vocabulary.Documents
    fun (counts: IReadOnlyDictionary<string, int>) ->
        let entries =
            [| for kv in counts do
                   match index.TryGetValue kv.Key with
                   | true, i -> i, float kv.Value
                   | _ -> () |]
            |> Array.sortBy fst
        let values =
            match vocabulary.Scaling with
            | Counts -> entries |> Array.map snd
            | Log -> entries |> Array.map (fun (_, c) -> log (1.0 + c))
            | TfIdf ->
                let weighted =
                    entries
                    |> Array.map (fun (i, c) ->
                        c * (log ((1.0 + n) / (1.0 + float vocabulary.DocumentFrequency[i])) + 1.0))
                let norm = sqrt (weighted |> Array.sumBy (fun v -> v * v))
                if norm > 0.0 then weighted |> Array.map (fun v -> v / norm) else weighted
        { Indices = entries |> Array.map fst; Values = values |> Array.map float32 }

/// Rows of sparse vectors as one dense row-major float32 matrix of `columns` columns.
let densify (columns: int) (rows: SparseVector[]) =
    let dense = Array.zeroCreate<float32>(rows.Length * columns)
    rows
    |> Array.iteri (fun r v ->
        for j in 0 .. v.Indices.Length - 1 do
            dense[r * columns + v.Indices[j]] <- v.Values[j])
    dense
