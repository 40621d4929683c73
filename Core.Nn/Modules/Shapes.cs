namespace Hybrid.Core.Nn.Modules;

/// <summary>Validation and PyTorch-style formatting of layer hyper-parameters, shared by the layer constructors.</summary>
internal static class Shapes
{
    public static Size2 Positive(Size2 value, string what, string argument) =>
        value.H > 0 && value.W > 0 ? value : throw new ArgumentException($"{what} must be positive, not {Tuple(value)}", argument);

    public static Size2 NonNegative(Size2 value, string what, string argument) =>
        value.H >= 0 && value.W >= 0 ? value : throw new ArgumentException($"{what} must be non-negative, not {Tuple(value)}", argument);

    public static int Positive(int value, string what, string argument) =>
        value > 0 ? value : throw new ArgumentException($"{what} must be positive, not {value}", argument);

    public static double Probability(double p, string argument) =>
        p is >= 0 and <= 1 ? p : throw new ArgumentException($"a probability must lie in [0, 1], not {p}", argument);

    /// <summary>Python's tuple repr: "(3, 3)".</summary>
    public static string Tuple(Size2 value) => $"({value.H}, {value.W})";

    /// <summary>Python's repr of a float ("1e-05", "0.1").</summary>
    public static string Float(double value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture) switch
    {
        var s when s.Contains('E') => value.ToString("0.#####e-00", System.Globalization.CultureInfo.InvariantCulture),
        var s when !s.Contains('.') => s + ".0",
        var s => s,
    };

    /// <summary>The input must have one of <paramref name="ranks"/> dimensions.</summary>
    public static void Rank(Tensor input, string layer, params int[] ranks)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (Array.IndexOf(ranks, input.Dim) < 0)
            throw new ArgumentException(
                $"{layer}: expected {string.Join(" or ", ranks.Select(r => $"{r}-D"))} input, got shape {ShapeOps.Format(input.ShapeRef)}", nameof(input));
    }
}
