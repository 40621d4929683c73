/// Gaussian mixtures that earn their place (ALGORITHMS.md section 2: DARA's one mixture on the raw count vectors gained
/// nothing): one mixture per class on the classifier's embedding, the number of components chosen by BIC, and a score,
/// the log-likelihood of a model's embedding under the mixture of its declared class. Together, with the classes' shares
/// of the training models as priors, the mixtures are a second, generative classifier of the embedding: a model is
/// unlikely under its declared class when that class's posterior is small. The EM is Core.Gpu's.
module Hybrid.Analysis.Naming.Mixtures

open Hybrid.Core.Gpu

/// How the mixtures are fitted.
type Options =
    {
        Covariance: CovarianceType
        /// BIC chooses among 1 .. MaxComponents components (fewer for a class with fewer distinct embeddings).
        MaxComponents: int
        /// Added to the diagonal of every covariance, in units of the standardised embedding: a class of a few models
        /// must not collapse to a point that nothing else can be near.
        RegCovar: float
        Seed: int
    }

/// Diagonal covariances (a class rarely has the 128 models a full one needs), up to 4 components, reg_covar 0.1.
let defaults = { Covariance = CovarianceType.Diag; MaxComponents = 4; RegCovar = 0.1; Seed = 0 }

/// The covariance type for its scikit-learn name.
let parseCovariance (text: string) =
    match text.Trim().ToLowerInvariant() with
    | "full" -> CovarianceType.Full
    | "tied" -> CovarianceType.Tied
    | "diag" -> CovarianceType.Diag
    | "spherical" -> CovarianceType.Spherical
    | other ->
        raise (
            Hybrid.Core.Nn.InputException(
                "--covariance",
                $"unknown covariance type '{other}': expected full, tied, diag or spherical"
            )
        )

/// The fitted mixtures of a classifier's classes.
type ClassMixtures =
    {
        /// Per embedding dimension, the training embeddings' mean and standard deviation (1 where it is 0): the
        /// mixtures see standardised embeddings, so one reg_covar suits every dimension.
        Mean: float[]
        Scale: float[]
        /// One mixture per class (none for a class without training models).
        Models: GaussianMixtureModel option[]
        /// Per class, the log of its share of the training models.
        LogPriors: float[]
    }

let private standardise (mixtures: ClassMixtures) (rows: float[][]) =
    rows |> Array.collect (fun r -> Array.init r.Length (fun j -> (r[j] - mixtures.Mean[j]) / mixtures.Scale[j]))

let private distinctRows (rows: float[][]) =
    rows |> Array.distinctBy (fun r -> System.String.Join(",", r)) |> Array.length

/// Fits one mixture per class to the embeddings of the training models with these class targets.
let fit (device: Device) (options: Options) (classes: int) (embeddings: float[][]) (targets: int[]) =
    let d = embeddings[0].Length
    let n = float embeddings.Length
    let mean = Array.init d (fun j -> (embeddings |> Array.sumBy (fun r -> r[j])) / n)
    let scale =
        Array.init d (fun j ->
            let s = sqrt ((embeddings |> Array.sumBy (fun r -> (r[j] - mean[j]) ** 2.0)) / n)
            if s > 0.0 then s else 1.0)
    let shell = { Mean = mean; Scale = scale; Models = [||]; LogPriors = [||] }
    let fitClass c =
        let rows =
            [| for i in 0 .. targets.Length - 1 do
                   if targets[i] = c then
                       embeddings[i] |]
        if rows.Length = 0 then
            None, -infinity
        else
            let data = standardise shell rows
            let em =
                GaussianMixtureOptions(
                    Covariance = options.Covariance,
                    RegCovar = options.RegCovar,
                    Seed = options.Seed
                )
            let matrix: Hybrid.Analysis.TensorInput.Matrix =
                { Source = "embeddings"; Rows = rows.Length; Columns = d; Values = data }
            let _, best, _ =
                Hybrid.Analysis.GaussianMixture.fitsByComponents
                    device
                    em
                    matrix
                    [ 1 .. min options.MaxComponents (distinctRows rows) ]
                |> List.minBy (fun (_, _, bic) -> bic)
            Some best, log (float rows.Length / n)
    let fitted = Array.init classes fitClass
    { shell with Models = Array.map fst fitted; LogPriors = Array.map snd fitted }

/// Each row's log-likelihood under its declared class's mixture (None where that class has none, or no class is
/// declared) and the posterior probability of the declared class among all the classes' mixtures (0 without one).
/// Each class's mixture scores all the rows in one call.
let scoreAll (device: Device) (mixtures: ClassMixtures) (embeddings: float[][]) (declared: int option[]) =
    if embeddings.Length = 0 then
        [||]
    else
        let z = standardise mixtures embeddings
        let logLikelihood = mixtures.Models |> Array.map (Option.map (fun m -> m.ScoreSamples(z, device)))
        embeddings
        |> Array.mapi (fun i _ ->
            let joint =
                Array.map2
                    (fun (l: float[] option) p -> l |> Option.map (fun l -> l[i] + p) |> Option.defaultValue -infinity)
                    logLikelihood
                    mixtures.LogPriors
            let top = Array.max joint
            let total = top + log (joint |> Array.sumBy (fun j -> exp (j - top)))
            match declared[i] |> Option.bind (fun c -> logLikelihood[c] |> Option.map (fun l -> c, l[i])) with
            | Some(c, l) -> Some l, exp (joint[c] - total)
            | None -> None, 0.0)
