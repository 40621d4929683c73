namespace Hybrid.Core.Nn.Zoo;

/// <summary>DARA's naming-anomaly classifier (ALGORITHMS.md section 2), with the keys of the published
/// <c>DARA_classifier</c> (PurdueDualityLab/PTM-Naming): <c>fc1</c> (features -> 512), <c>fc2</c> (512 -> 256), <c>fc3</c>
/// (256 -> 128), <c>fc4</c> (128 -> classes), one <c>dropout</c> (p 0.5) applied twice. Forward: relu(fc1), relu(fc2),
/// dropout, relu(fc3), dropout, fc4. State keys: fc1.weight, fc1.bias, ..., fc4.weight, fc4.bias. The source's unused
/// <c>downsample</c> pooling holds no state and is left out. The hidden widths and the dropout probability may differ
/// from the published ones (a grid search varies them); the keys stay the same.</summary>
public sealed class DaraMlp : Module
{
    readonly Linear fc1, fc2, fc3, fc4;
    readonly Dropout dropout;

    /// <summary>The published widths of fc1, fc2 and fc3.</summary>
    public static IReadOnlyList<int> PublishedWidths { get; } = [512, 256, 128];

    /// <summary>A classifier of <paramref name="inputFeatures"/>-long vectors into <paramref name="numClasses"/> classes;
    /// <paramref name="widths"/> are the three hidden widths (default 512, 256, 128) and <paramref name="dropout"/> the
    /// dropout probability (default 0.5).</summary>
    public DaraMlp(int inputFeatures, int numClasses, Generator? generator = null, IReadOnlyList<int>? widths = null,
        double dropout = 0.5)
    {
        Shapes.Positive(inputFeatures, "inputFeatures", nameof(inputFeatures));
        Shapes.Positive(numClasses, "numClasses", nameof(numClasses));
        var w = widths ?? PublishedWidths;
        if (w.Count != 3)
            throw new ArgumentException($"DARA_classifier: give three hidden widths, not {w.Count}", nameof(widths));
        foreach (var width in w)
            Shapes.Positive(width, "width", nameof(widths));
        var g = generator ?? Init.Default;
        InputFeatures = inputFeatures;
        Widths = [.. w];
        fc1 = RegisterModule("fc1", new Linear(inputFeatures, w[0], generator: g));
        fc2 = RegisterModule("fc2", new Linear(w[0], w[1], generator: g));
        fc3 = RegisterModule("fc3", new Linear(w[1], w[2], generator: g));
        fc4 = RegisterModule("fc4", new Linear(w[2], numClasses, generator: g));
        this.dropout = RegisterModule("dropout", new Dropout(dropout, generator: new Generator((long)g.NextBits())));
    }

    /// <summary>The length of the n-gram count vectors the classifier reads.</summary>
    public int InputFeatures { get; }

    /// <summary>The hidden widths of fc1, fc2 and fc3; the last is the length of <see cref="Embed(Tensor)"/>'s vectors.</summary>
    public IReadOnlyList<int> Widths { get; }

    public override string TypeName => "DARA_classifier";

    /// <summary>The last hidden layer, relu(fc3), before its dropout: the embedding the mixtures of naming-anomaly
    /// detection are fitted on (128 values per row with the published widths).</summary>
    public Tensor Embed(Tensor input) => EmbedAfterFc1(fc1.Call(input));

    /// <summary><see cref="Embed(Tensor)"/> of a sparse batch (n-gram vectors as stored): fc1 multiplies only the
    /// nonzeros (<see cref="Functional.SparseLinear(SparseRows, Tensor, Tensor?)"/>), forward and backward, so training
    /// and inference cost what the rows hold rather than what the vocabulary counts. fc1 must not be masked.</summary>
    public Tensor Embed(SparseRows input)
    {
        if (fc1.IsMasked)
            throw new InvalidOperationException("DARA_classifier: a masked fc1 runs on dense input only");
        return EmbedAfterFc1(Functional.SparseLinear(input, fc1.Weight, fc1.Bias));
    }

    Tensor EmbedAfterFc1(Tensor fc1Output)
    {
        var x = dropout.Call(Functional.Relu(fc2.Call(Functional.Relu(fc1Output))));
        return Functional.Relu(fc3.Call(x));
    }

    public override Tensor Forward(Tensor input) => Classify(Embed(input));

    /// <summary>The logits of a sparse batch: <see cref="Forward(Tensor)"/> with fc1 on the nonzeros alone.</summary>
    public Tensor Forward(SparseRows input) => Classify(Embed(input));

    Tensor Classify(Tensor embedding) => fc4.Call(dropout.Call(embedding));
}
