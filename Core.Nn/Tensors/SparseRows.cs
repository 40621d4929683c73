namespace Hybrid.Core.Nn;

/// <summary>A batch of input rows in compressed sparse row form (host arrays): row r holds the values
/// <c>Values[RowStart[r] .. RowStart[r+1]-1]</c> at the columns <c>Indices[...]</c>. It is the input of
/// <see cref="Functional.SparseLinear(SparseRows, Tensor, Tensor?)"/>, for data such as n-gram counts where a row has a
/// few dozen nonzeros among thousands of columns, so densifying it would multiply mostly zeros.</summary>
public sealed class SparseRows
{
    /// <summary>Checks and keeps the arrays (no copy): <paramref name="rowStart"/> has one more entry than there are rows,
    /// starts at 0, never decreases and ends at the number of values; every index lies in [0, columns).</summary>
    public SparseRows(int columns, int[] rowStart, int[] indices, float[] values)
    {
        ArgumentNullException.ThrowIfNull(rowStart);
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(values);
        if (columns < 1) throw new ArgumentException($"SparseRows: {columns} columns; need at least one", nameof(columns));
        if (rowStart.Length < 1 || rowStart[0] != 0 || rowStart[^1] != values.Length || indices.Length != values.Length)
            throw new ArgumentException(
                $"SparseRows: row starts must run from 0 to the {values.Length} values, with as many indices ({indices.Length})");
        for (int r = 0; r + 1 < rowStart.Length; r++)
            if (rowStart[r + 1] < rowStart[r])
                throw new ArgumentException($"SparseRows: row {r} ends before it starts ({rowStart[r]} > {rowStart[r + 1]})");
        foreach (var i in indices)
            if ((uint)i >= (uint)columns)
                throw new ArgumentException($"SparseRows: column {i} outside [0, {columns})");
        Columns = columns;
        RowStart = rowStart;
        Indices = indices;
        Values = values;
    }

    /// <summary>Joins rows given as (column indices, values) pairs of equal lengths.</summary>
    public static SparseRows FromRows(int columns, IReadOnlyList<(int[] Indices, float[] Values)> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var rowStart = new int[rows.Count + 1];
        for (int r = 0; r < rows.Count; r++)
        {
            if (rows[r].Indices.Length != rows[r].Values.Length)
                throw new ArgumentException($"SparseRows: row {r} has {rows[r].Indices.Length} indices but {rows[r].Values.Length} values");
            rowStart[r + 1] = rowStart[r] + rows[r].Values.Length;
        }
        var indices = new int[rowStart[^1]];
        var values = new float[rowStart[^1]];
        for (int r = 0; r < rows.Count; r++)
        {
            rows[r].Indices.CopyTo(indices, rowStart[r]);
            rows[r].Values.CopyTo(values, rowStart[r]);
        }
        return new SparseRows(columns, rowStart, indices, values);
    }

    /// <summary>The number of rows.</summary>
    public int Rows => RowStart.Length - 1;

    /// <summary>The length of a dense row.</summary>
    public int Columns { get; }

    /// <summary>Rows + 1 offsets into <see cref="Indices"/> and <see cref="Values"/>.</summary>
    public int[] RowStart { get; }

    public int[] Indices { get; }

    public float[] Values { get; }

    /// <summary>The rows as a dense row-major (Rows, Columns) float32 tensor.</summary>
    public Tensor ToDense(Gpu.Device? device = null)
    {
        var dense = new float[Rows * Columns];
        for (int r = 0; r < Rows; r++)
            for (int j = RowStart[r]; j < RowStart[r + 1]; j++)
                dense[r * Columns + Indices[j]] += Values[j];
        return Tensor.Wrap(dense, [Rows, Columns], device ?? Gpu.Device.Cpu);
    }
}
