namespace Hybrid.Core.Nn.Modules;

/// <summary>PyTorch's <c>nn.Dropout</c>: in training, zeroes each element with probability <see cref="P"/> and scales the
/// rest by 1 / (1 - p); the identity in evaluation. The masks come from <see cref="Generator"/>, so a run is reproducible
/// from its seed.</summary>
public sealed class Dropout : Module
{
    /// <summary>A dropout layer drawing its masks from <paramref name="generator"/>; without one it gets its own generator
    /// seeded from <see cref="Init.Default"/>, so that two layers do not drop the same positions.</summary>
    public Dropout(double p = 0.5, bool inplace = false, Generator? generator = null)
    {
        P = Shapes.Probability(p, nameof(p));
        Inplace = inplace;
        Generator = generator ?? new Generator((long)Init.Default.NextBits());
    }

    public double P { get; }

    /// <summary>PyTorch's flag, recorded for reprs; the output is always a new tensor.</summary>
    public bool Inplace { get; }

    /// <summary>Where the dropout masks come from.</summary>
    public Generator Generator { get; set; }

    /// <summary>Restarts the mask stream from <paramref name="seed"/>.</summary>
    public void Seed(long seed) => Generator = new Generator(seed);

    public override Tensor Forward(Tensor input) => Functional.Dropout(input, P, Training, Generator);

    public override string ToString() => $"Dropout(p={Shapes.Float(P)}, inplace={(Inplace ? "True" : "False")})";
}
