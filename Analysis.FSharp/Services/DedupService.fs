/// `dedup`: groups of duplicate models in a catalog, stored there and returned as a result record.
module Hybrid.Analysis.DedupService


/// The similarity at which two architectures are duplicates when none is given.
let DefaultThreshold = 0.85

type DedupResult =
    {
        Strategy: string
        Threshold: float option
        /// Models in the catalog.
        Models: int
        /// Pairs of different structural hash that were scored.
        ScoredPairs: int64
        Groups: Dedup.Group list
        Pairs: Dedup.Pair list
    }

/// Runs strategy ("name", "architecture" or "both") at threshold over the catalog at db, replacing that strategy's
/// stored groups.
let run (db: string) (strategy: string) (threshold: float) =
    if not (Catalog.exists db) then
        Input.fail "dedup: no catalog at %s (hybrid extract creates it)" db
    if not (threshold > 0.0 && threshold <= 1.0) then
        Input.fail "dedup: --threshold %g is outside (0, 1]" threshold
    use catalog = Catalog.openOrCreate db
    let models = (Catalog.counts catalog)["models"] |> int
    if models = 0 then
        Input.fail "dedup: the catalog %s holds no models (run hybrid extract first)" db
    let r = Dedup.run catalog strategy threshold
    { Strategy = r.Strategy
      Threshold = r.Threshold
      Models = models
      ScoredPairs = r.Scored
      Groups = r.Groups
      Pairs = r.Pairs }
