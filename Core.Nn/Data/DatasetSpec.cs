using System.Globalization;

namespace Hybrid.Core.Nn.Data;

/// <summary>The one dataset SPEC syntax of the command line (DESIGN.md, "Formats and storage"):
/// <c>cifar10:FILE</c>, <c>cifar100:FILE</c>, <c>fashion-mnist[:DIR]</c>, <c>mnist:DIR</c>,
/// <c>folder:DIR</c> (one sub-folder per class, see <see cref="ImageFolder"/>), <c>random:N:CxHxW[:SEED]</c>.
/// Parsing checks the syntax only; <see cref="Load(string, bool)"/>
/// reads the data.</summary>
public sealed record DatasetSpec(DatasetSpec.Source Kind, string? Location, int Count = 0, int Channels = 0,
    int Height = 0, int Width = 0, long Seed = 0)
{
    /// <summary>Where the images come from.</summary>
    public enum Source { Cifar10, Cifar100, FashionMnist, Mnist, Folder, Random }

    /// <summary>The accepted forms, for error messages and help text.</summary>
    public const string Forms =
        "cifar10:FILE, cifar100:FILE, fashion-mnist[:DIR], mnist:DIR, folder:DIR, random:N:CxHxW[:SEED]";

    /// <summary>Parses <paramref name="spec"/>; a malformed one is an <see cref="ArgumentException"/> that quotes it,
    /// names the problem and lists <see cref="Forms"/>.</summary>
    public static DatasetSpec Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        int colon = spec.IndexOf(':');
        string name = (colon < 0 ? spec : spec[..colon]).Trim().ToLowerInvariant();
        string? rest = colon < 0 ? null : spec[(colon + 1)..];
        string Location(string what) =>
            string.IsNullOrWhiteSpace(rest) ? throw Bad(spec, $"{name} needs a {what} after the colon") : rest;
        return name switch
        {
            "cifar10" => new DatasetSpec(Source.Cifar10, Location("FILE")),
            "cifar100" => new DatasetSpec(Source.Cifar100, Location("FILE")),
            "fashion-mnist" => new DatasetSpec(Source.FashionMnist, rest is null ? null : Location("DIR")),
            "mnist" => new DatasetSpec(Source.Mnist, Location("DIR")),
            "folder" => new DatasetSpec(Source.Folder, Location("DIR")),
            "random" => ParseRandom(spec, rest),
            "" => throw Bad(spec, "empty dataset name"),
            _ => throw Bad(spec, $"unknown dataset '{name}'"),
        };
    }

    static DatasetSpec ParseRandom(string spec, string? rest)
    {
        string[] parts = rest?.Split(':') ?? [];
        if (parts.Length is < 2 or > 3) throw Bad(spec, "random takes N:CxHxW[:SEED]");
        int count = Positive(spec, parts[0], "N");
        string[] dims = parts[1].Split('x', 'X');
        if (dims.Length != 3) throw Bad(spec, $"'{parts[1]}' is not CxHxW");
        int c = Positive(spec, dims[0], "C"), h = Positive(spec, dims[1], "H"), w = Positive(spec, dims[2], "W");
        if ((long)count * c * h * w > Array.MaxLength)
            throw Bad(spec, $"{count} x {c} x {h} x {w} pixels exceed the largest array .NET can hold");
        long seed = 0;
        if (parts.Length == 3 && !long.TryParse(parts[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out seed))
            throw Bad(spec, $"SEED '{parts[2]}' is not an integer");
        return new DatasetSpec(Source.Random, null, count, c, h, w, seed);
    }

    static int Positive(string spec, string text, string what) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0
            ? v
            : throw Bad(spec, $"{what} '{text}' is not a positive integer");

    static ArgumentException Bad(string spec, string problem) =>
        new($"dataset '{spec}': {problem} (expected one of {Forms})", "spec");

    /// <summary>Parses and loads <paramref name="spec"/>. <paramref name="train"/> picks the split of the IDX datasets
    /// (a CIFAR file is one split already; random data ignores it).</summary>
    /// <exception cref="ArgumentException">The spec is malformed.</exception>
    /// <exception cref="InputException">The files are missing or malformed.</exception>
    public static LabelledImages Load(string spec, bool train = false) => Parse(spec).Load(train);

    /// <summary>Loads the dataset this spec names; see <see cref="Load(string, bool)"/>.</summary>
    public LabelledImages Load(bool train = false) => Kind switch
    {
        Source.Cifar10 => Cifar.Load(Location!, Cifar.Kind.Cifar10),
        Source.Cifar100 => Cifar.Load(Location!, Cifar.Kind.Cifar100),
        Source.FashionMnist => FashionMnist.Load(train, Location),
        Source.Mnist => Mnist.Load(Location!, train),
        Source.Folder => ImageFolder.Load(Location!),
        _ => RandomImages(),
    };

    /// <summary>Seeded uniform noise in [0, 1) with labels drawn uniformly from 10 classes named "0" .. "9".</summary>
    LabelledImages RandomImages()
    {
        var random = SplitMix64.For(Seed, 0, 0);
        var images = new float[(long)Count * Channels * Height * Width];
        for (int i = 0; i < images.Length; i++) images[i] = random.NextFloat();
        var labels = new long[Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = random.NextInt(Mnist.ClassNames.Count);
        return new LabelledImages(images, labels, Count, Channels, Height, Width, Mnist.ClassNames);
    }
}
