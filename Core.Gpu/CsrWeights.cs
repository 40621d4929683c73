namespace Hybrid.Core.Gpu;

/// <summary>A weight matrix (rows = output features or channels, columns = inputs of one filter) in compressed sparse row form,
/// keeping only the weights whose mask score is positive (and which are not exactly zero). Arrays live on <see cref="Device"/>.</summary>
public sealed class CsrWeights : IDisposable
{
    CsrWeights(Device device, int rows, int cols, int[] rowStart, int[] columns, float[] values)
    {
        Device = device;
        Rows = rows;
        Cols = cols;
        NonZeros = values.Length;
        RowStart = device.Upload<int>(rowStart);
        Columns = device.Upload<int>(columns);
        Values = device.Upload<float>(values);
    }

    public Device Device { get; }
    public int Rows { get; }
    public int Cols { get; }
    public int NonZeros { get; }
    /// <summary>Rows + 1 offsets into <see cref="Columns"/> and <see cref="Values"/>.</summary>
    public DeviceArray<int> RowStart { get; }
    public DeviceArray<int> Columns { get; }
    public DeviceArray<float> Values { get; }
    /// <summary>Share of the Rows x Cols weights kept.</summary>
    public double Density => Rows == 0 || Cols == 0 ? 0 : (double)NonZeros / ((long)Rows * Cols);

    /// <summary>Compresses weight * 1[scores > 0] (row-major, rows x cols); <paramref name="scores"/> may be empty for "no mask".</summary>
    public static CsrWeights FromMasked(Device device, int rows, int cols, ReadOnlySpan<float> weight, ReadOnlySpan<float> scores)
    {
        if (rows < 0 || cols < 0) throw new ArgumentException($"CSR weights: rows {rows} and cols {cols} must not be negative");
        long length = (long)rows * cols;
        if (weight.Length != length)
            throw new ArgumentException($"CSR weights: weight has {weight.Length} elements, expected {rows}x{cols} = {length}");
        if (!scores.IsEmpty && scores.Length != length)
            throw new ArgumentException($"CSR weights: mask scores have {scores.Length} elements, expected {rows}x{cols} = {length}");
        var rowStart = new int[rows + 1];
        var columns = new List<int>();
        var values = new List<float>();
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                int i = r * cols + c;
                float w = weight[i];
                if (w != 0f && (scores.IsEmpty || scores[i] > 0f))
                {
                    columns.Add(c);
                    values.Add(w);
                }
            }
            rowStart[r + 1] = values.Count;
        }
        return new CsrWeights(device, rows, cols, rowStart, columns.ToArray(), values.ToArray());
    }

    /// <summary>Compresses the parameters of a masked layer (downloading them to the host once).</summary>
    public static CsrWeights FromMasked(LayerParameters p, int rows, int cols)
    {
        var weight = p.Weight.ToArray();
        var scores = p.WeightScores?.ToArray() ?? [];
        return FromMasked(p.Weight.Device, rows, cols, weight, scores);
    }

    public void Dispose()
    {
        RowStart.Dispose();
        Columns.Dispose();
        Values.Dispose();
    }

    public override string ToString() => $"CSR {Rows}x{Cols}, {NonZeros} kept ({Density:P1}) on {Device.Name}";
}
