namespace Hybrid.Core.Nn.Zoo;

/// <summary>DARA's naming-anomaly classifier (ALGORITHMS.md section 2), with the keys of the published
/// <c>DARA_classifier</c> (PurdueDualityLab/PTM-Naming): <c>fc1</c> (features -> 512), <c>fc2</c> (512 -> 256), <c>fc3</c>
/// (256 -> 128), <c>fc4</c> (128 -> classes), one <c>dropout</c> (p 0.5) applied twice. Forward: relu(fc1), relu(fc2),
/// dropout, relu(fc3), dropout, fc4. State keys: fc1.weight, fc1.bias, ..., fc4.weight, fc4.bias. The source's unused
/// <c>downsample</c> pooling holds no state and is left out.</summary>
public sealed class DaraMlp : Module
{
    readonly Linear fc1, fc2, fc3, fc4;
    readonly Dropout dropout;

    public DaraMlp(int inputFeatures, int numClasses, Generator? generator = null)
    {
        Shapes.Positive(inputFeatures, "inputFeatures", nameof(inputFeatures));
        Shapes.Positive(numClasses, "numClasses", nameof(numClasses));
        var g = generator ?? Init.Default;
        InputFeatures = inputFeatures;
        fc1 = RegisterModule("fc1", new Linear(inputFeatures, 512, generator: g));
        fc2 = RegisterModule("fc2", new Linear(512, 256, generator: g));
        fc3 = RegisterModule("fc3", new Linear(256, 128, generator: g));
        fc4 = RegisterModule("fc4", new Linear(128, numClasses, generator: g));
        dropout = RegisterModule("dropout", new Dropout(0.5, generator: new Generator((long)g.NextBits())));
    }

    /// <summary>The length of the n-gram count vectors the classifier reads.</summary>
    public int InputFeatures { get; }

    public override string TypeName => "DARA_classifier";

    public override Tensor Forward(Tensor input)
    {
        var x = Functional.Relu(fc1.Call(input));
        x = dropout.Call(Functional.Relu(fc2.Call(x)));
        x = dropout.Call(Functional.Relu(fc3.Call(x)));
        return fc4.Call(x);
    }
}
