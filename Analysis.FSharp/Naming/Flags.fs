/// The naming-anomaly flag: the classifier is confident that the declared label is wrong (its probability of the
/// declared class is at most 1 - tau) and, with mixtures, the model is also unlikely under its declared class (that
/// class's posterior among the class mixtures is below epsilon). Either alone is reported, so a study can see whether
/// the mixtures help.
module Hybrid.Analysis.Naming.Flags

open Hybrid.Core.Nn

/// When a model is flagged.
type Rule =
    {
        /// The classifier's confidence that the declared class is wrong, 1 - p(declared), must reach Tau.
        Tau: float
        /// With mixtures: the declared class's posterior among the class mixtures must stay below Epsilon.
        Epsilon: float option
    }

/// tau 0.9; with mixtures, epsilon 0.5 (the mixtures must not favour the declared class).
let defaults = { Tau = 0.9; Epsilon = Some 0.5 }

/// The rule without the mixtures' part.
let classifierOnly (rule: Rule) = { rule with Epsilon = None }

/// Checks tau and epsilon lie in [0, 1].
let validate (rule: Rule) =
    let check name v =
        if not (v >= 0.0 && v <= 1.0) then
            raise (InputException(name, $"{v} must lie in [0, 1]"))
    check "--tau" rule.Tau
    rule.Epsilon |> Option.iter (check "--epsilon")
    rule

/// Whether the rule flags a model with this result.
let flagged (rule: Rule) (p: CrossValidation.Prediction) =
    1.0 - p.DeclaredProbability >= rule.Tau
    && (match rule.Epsilon, p.MixturePosterior with
        | Some e, Some posterior -> posterior < e
        | _ -> true)

/// Precision and recall of the flagged rows against the rows known to be mislabelled (1 when there is nothing to
/// find or nothing flagged, as nothing was missed or claimed).
let precisionRecall (flaggedRows: Set<int>) (mislabelled: Set<int>) =
    let hits = Set.intersect flaggedRows mislabelled |> Set.count |> float
    (if flaggedRows.IsEmpty then 1.0 else hits / float flaggedRows.Count),
    (if mislabelled.IsEmpty then 1.0 else hits / float mislabelled.Count)
