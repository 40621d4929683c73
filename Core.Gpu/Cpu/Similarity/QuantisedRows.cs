namespace Hybrid.Core.Gpu.Cpu;

/// <summary>An integer copy of the rows of a <see cref="SearchStorage"/>, what <see cref="SearchPrefilter"/> scans first:
/// row r is stored as <c>Scale[r] * E</c> with E a vector of integers in [-<see cref="Levels"/>, <see cref="Levels"/>]
/// held as bytes, plus what bounds the error of that copy: the Euclidean norm of the row and of its quantisation error
/// <c>e - Scale[r] * E</c> (both in float64; <see cref="QuantisedQueries"/> widens the bound past their rounding), and
/// the sum of E (the offset correction of <see cref="SearchDotInt8"/>'s unsigned-by-signed products). Rows are
/// <see cref="StrideOf"/> bytes apart, each on a 64-byte line, padded with zeros: a quarter of the float32 rows' bytes.</summary>
internal sealed unsafe class QuantisedRows : NativeOwner
{
    /// <summary>The largest stored integer: 7 bits, so that an unsigned query byte (up to 254) times two of them stays
    /// within the 16-bit lanes of vpmaddubsw (2 x 254 x 63 = 32,004 &lt; 32,767), which would otherwise saturate.</summary>
    public const int Levels = 63;

    /// <summary>Bytes per vector of the integer kernels.</summary>
    public const int Lane = 64;

    readonly double[] scales, norms, errors;
    readonly int[] sums;

    /// <summary>Zero entries after the last row's in each per-row array (<see cref="Scales"/> to <see cref="Sums"/>), so
    /// that a load of eight consecutive entries from any row stays inside the array.</summary>
    public const int Padding = 8;

    QuantisedRows(int rows, int dimension)
        : base(SearchStorage.AllocateHuge(Math.Max((nuint)rows * (nuint)StrideOf(dimension), 1)))
    {
        Rows = rows;
        Stride = StrideOf(dimension);
        scales = new double[rows + Padding];
        norms = new double[rows + Padding];
        errors = new double[rows + Padding];
        sums = new int[rows + Padding];
    }

    public int Rows { get; }

    /// <summary>Bytes from one row to the next.</summary>
    public int Stride { get; }

    /// <summary>The first byte of the first row.</summary>
    public sbyte* Pointer => (sbyte*)Memory;

    /// <summary>The factor of row r's integers.</summary>
    public ReadOnlySpan<double> Scales => scales;

    /// <summary>An upper bound of row r's Euclidean norm.</summary>
    public ReadOnlySpan<double> Norms => norms;

    /// <summary>An upper bound of the Euclidean norm of row r's quantisation error.</summary>
    public ReadOnlySpan<double> Errors => errors;

    /// <summary>The sum of row r's integers.</summary>
    public ReadOnlySpan<int> Sums => sums;

    /// <summary>The dimension rounded up to whole 64-byte vectors.</summary>
    public static int StrideOf(int dimension) => (dimension + Lane - 1) / Lane * Lane;

    /// <summary>The integer copy of every row of <paramref name="storage"/>, built on all cores.</summary>
    public static QuantisedRows Of(SearchStorage storage)
    {
        var quantised = new QuantisedRows(storage.Rows, storage.Dimension);
        Parallel.For(0, storage.Rows, r => quantised.Quantise(
            new ReadOnlySpan<float>(storage.Pointer + (long)r * storage.Stride, storage.Dimension), r));
        return quantised;
    }

    void Quantise(ReadOnlySpan<float> row, int r)
    {
        var target = new Span<sbyte>(Pointer + (long)r * Stride, Stride);
        target.Clear();
        float max = 0;
        foreach (float v in row) max = Math.Max(max, Math.Abs(v));
        // A zero row is stored exactly (all integers 0, no error), whatever its scale.
        double scale = max == 0 ? 1 : (double)max / Levels;
        double norm = 0, error = 0;
        int sum = 0;
        for (int j = 0; j < row.Length; j++)
        {
            int level = (int)Math.Clamp(Math.Round(row[j] / scale), -Levels, Levels);
            target[j] = (sbyte)level;
            sum += level;
            double e = row[j] - scale * level;
            norm += (double)row[j] * row[j];
            error += e * e;
        }
        scales[r] = scale;
        sums[r] = sum;
        norms[r] = Math.Sqrt(norm);
        errors[r] = Math.Sqrt(error);
    }
}
