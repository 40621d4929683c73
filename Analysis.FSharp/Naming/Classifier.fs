/// The DARA classifier (Core.Nn's zoo `dara-mlp`) on n-gram vectors: training with cross-entropy, Adam and a step
/// schedule, class probabilities, and the 128-dim embedding its last hidden layer gives. Every number depends only on
/// the options' seed: the initial weights, the batch order and the dropout masks are drawn from it.
module Hybrid.Analysis.Naming.Classifier

open Hybrid.Core.Nn
open Hybrid.Core.Nn.Optim
open Hybrid.Core.Nn.Zoo
open Hybrid.Analysis.Naming.Vocabulary

/// What training does; the defaults are DARA's published settings.
type Options =
    {
        /// The hidden widths of fc1, fc2 and fc3 (the last is the embedding's length).
        Widths: int list
        Dropout: float
        LearningRate: float
        Epochs: int
        BatchSize: int
        /// The learning rate times Gamma every StepEvery epochs (StepLR).
        StepEvery: int
        Gamma: float
        Seed: int
    }

/// DARA's: 512, 256, 128, dropout 0.5, Adam 1e-3, StepLR(30, 0.1), 40 epochs, batch 256.
let defaults =
    { Widths = List.ofSeq DaraMlp.PublishedWidths
      Dropout = 0.5
      LearningRate = 1e-3
      Epochs = 40
      BatchSize = 256
      StepEvery = 30
      Gamma = 0.1
      Seed = 0 }

/// A new classifier of `features`-long vectors into `classes` classes, its weights drawn from the seed.
let create (options: Options) (features: int) (classes: int) =
    DaraMlp(features, classes, Generator(int64 options.Seed), Array.ofList options.Widths, options.Dropout)

/// The rows as one CSR batch: the first layer multiplies only their nonzeros (Functional.SparseLinear), where a
/// densified batch of a few dozen terms among thousands would multiply mostly zeros.
let private batchRows (features: int) (rows: SparseVector[]) =
    SparseRows.FromRows(features, rows |> Array.map (fun v -> struct (v.Indices, v.Values)))

/// Trains a new classifier on the rows and their class targets.
let train
    (device: Hybrid.Core.Gpu.Device)
    (options: Options)
    (features: int)
    (classes: int)
    (rows: SparseVector[])
    (targets: int[])
    =
    if options.Epochs < 1 || options.BatchSize < 1 || options.StepEvery < 1 then
        raise (InputException("classifier", $"epochs, batch size and step must be at least 1: {options}"))
    let model = create options features classes
    model.To device |> ignore
    let optimizer = Adam(model.Parameters(), options.LearningRate)
    let schedule = StepLR(optimizer, options.StepEvery, options.Gamma)
    let random = System.Random options.Seed
    let order = Array.init rows.Length id
    do
        use _ = model.Train()
        for _ in 1 .. options.Epochs do
            random.Shuffle order
            for start in 0 .. options.BatchSize .. rows.Length - 1 do
                let batch = order[start .. min rows.Length (start + options.BatchSize) - 1]
                let x = batchRows features (batch |> Array.map (fun i -> rows[i]))
                let y = Tensor.Wrap(batch |> Array.map (fun i -> int64 targets[i]), [| batch.Length |], device)
                let loss = Functional.CrossEntropy(model.Forward x, y)
                optimizer.ZeroGrad()
                loss.Backward()
                optimizer.Step()
            schedule.Step()
    model

/// Rows in evaluation batches of this size (DARA's 32 would only slow the matrix products).
let private evalBatch = 256

let private evaluate (model: DaraMlp) (rows: SparseVector[]) (f: SparseRows -> Tensor) =
    use _ = Autograd.NoGrad()
    use _ = model.Eval()
    [| for start in 0..evalBatch .. rows.Length - 1 do
           let batch = rows[start .. min rows.Length (start + evalBatch) - 1]
           let out = f (batchRows model.InputFeatures batch)
           let width = out.Size 1
           let values = out.ToDoubleArray()
           for r in 0 .. batch.Length - 1 -> values[r * width .. (r + 1) * width - 1] |]

/// Each row's class probabilities (softmax of the logits).
let probabilities (model: DaraMlp) (rows: SparseVector[]) =
    evaluate model rows (fun x -> Functional.Softmax(model.Forward x, 1))

/// Each row's embedding: the last hidden layer, relu(fc3).
let embeddings (model: DaraMlp) (rows: SparseVector[]) = evaluate model rows (fun x -> model.Embed x)

/// The most probable class of each row of probabilities, with its probability (ties to the lower class).
let predictions (probabilities: float[][]) =
    probabilities
    |> Array.map (fun p ->
        let best = Array.fold (fun b i -> if p[i] > p[b] then i else b) 0 [| 0 .. p.Length - 1 |]
        best, p[best])
