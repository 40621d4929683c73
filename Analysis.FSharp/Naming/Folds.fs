/// Stratified, shuffled, seeded k-fold cross-validation: every class is spread over the folds in proportion, so each
/// fold's test part looks like the whole. The same seed gives the same folds on any machine.
module Hybrid.Analysis.Naming.Folds

open Hybrid.Core.Nn

/// Each fold's test rows (ascending) for rows with these class targets; the rows in `trainOnly` (classes of one model)
/// are in no test part. Each class's rows are shuffled with the seed, the classes laid end to end in class order and
/// the rows dealt to the folds in turn, so fold sizes differ by at most one and every class of k or more rows is in
/// every fold.
let stratified (k: int) (seed: int) (targets: int[]) (trainOnly: int list) =
    if k < 2 then
        raise (InputException("--folds", $"{k} must be at least 2"))
    let excluded = set trainOnly
    let testable = targets.Length - excluded.Count
    if testable < k then
        raise (
            InputException(
                "--folds",
                $"{k} folds need at least {k} models in classes of two or more; there are {testable}"
            )
        )
    let random = System.Random seed
    let order =
        [| for c in Array.distinct targets |> Array.sort do
               let rows =
                   [| for i in 0 .. targets.Length - 1 do
                          if targets[i] = c && not (excluded.Contains i) then
                              i |]
               random.Shuffle rows
               yield! rows |]
    Array.init k (fun f -> [| for p in f..k .. order.Length - 1 -> order[p] |] |> Array.sort)

/// The training rows of a fold: every row not in its test part.
let trainingRows (rowCount: int) (test: int[]) =
    let held = set test
    [| for i in 0 .. rowCount - 1 do
           if not (held.Contains i) then
               i |]
