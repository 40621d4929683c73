using Hybrid.Core.Gpu;

namespace Hybrid.Core.Nn;

/// <summary>How several operands are read over one iteration shape under NumPy broadcasting, folded to as few dimensions
/// as possible: a run of rows (the outer dimensions) times one contiguous inner run along which each operand either
/// advances (stride 1) or repeats one element (stride 0).</summary>
/// <remarks>Folding is what makes broadcasting cheap: (64, 16, 32, 32) * (1, 16, 1, 1) becomes 1,024 rows of 1,024
/// elements times one scalar per row, and equal shapes become a single row that SIMD kernels run over whole.</remarks>
internal sealed class BroadcastLayout
{
    readonly int[] sizes;
    readonly int[][] strides;

    /// <param name="shape">The iteration shape (every operand broadcasts to it).</param>
    /// <param name="operands">Each operand's shape.</param>
    public BroadcastLayout(ReadOnlySpan<int> shape, params int[][] operands)
    {
        var keptSizes = new List<int>();
        var keptStrides = new List<int[]>();
        var full = new int[operands.Length][];
        for (int k = 0; k < operands.Length; k++) full[k] = ShapeOps.BroadcastStrides(operands[k], shape);
        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] == 1) continue;
            var column = new int[operands.Length];
            for (int k = 0; k < operands.Length; k++) column[k] = full[k][d];
            int last = keptSizes.Count - 1;
            bool folds = last >= 0;
            for (int k = 0; k < operands.Length && folds; k++) folds = keptStrides[last][k] == column[k] * shape[d];
            if (folds)
            {
                keptSizes[last] *= shape[d];
                keptStrides[last] = column;
            }
            else
            {
                keptSizes.Add(shape[d]);
                keptStrides.Add(column);
            }
        }
        Count = ShapeOps.Numel(shape);
        if (keptSizes.Count == 0)
        {
            keptSizes.Add(1);
            keptStrides.Add(new int[operands.Length]);
        }
        Inner = keptSizes[^1];
        InnerStrides = keptStrides[^1];
        sizes = keptSizes.Take(keptSizes.Count - 1).ToArray();
        strides = keptStrides.Take(keptStrides.Count - 1).ToArray();
        Rows = Inner == 0 ? 0 : Count / Inner;
    }

    /// <summary>Elements in the iteration shape.</summary>
    public int Count { get; }

    /// <summary>Number of rows (product of the outer dimensions).</summary>
    public int Rows { get; }

    /// <summary>Length of the contiguous inner run.</summary>
    public int Inner { get; }

    /// <summary>Per operand: 1 when it advances along the inner run, 0 when it repeats one element.</summary>
    public int[] InnerStrides { get; }

    /// <summary>Writes into <paramref name="offsets"/> the start of row <paramref name="row"/> in each operand.</summary>
    void RowOffsets(int row, Span<int> offsets)
    {
        offsets.Clear();
        for (int d = sizes.Length - 1; d >= 0; d--)
        {
            int index = row % sizes[d];
            row /= sizes[d];
            for (int k = 0; k < offsets.Length; k++) offsets[k] += index * strides[d][k];
        }
    }

    /// <summary>Runs <paramref name="row"/>(offsets, length) over every inner run, where offsets are each operand's
    /// element index at the run's start (an operand with inner stride 0 reads one element there). Rows are split across
    /// cores when large; a single row is split along its length instead, since every output element is distinct.</summary>
    /// <remarks><paramref name="serial"/> keeps one thread: reductions write the same target from several rows.</remarks>
    public void Run(RowAction row, bool serial = false)
    {
        if (Count == 0) return;
        int operands = InnerStrides.Length;
        if (Rows == 1)
        {
            if (serial) row(new int[operands], Inner);
            else
                Ranges.ByWork(Inner, (start, length) =>
                {
                    var offsets = new int[operands];
                    for (int k = 0; k < operands; k++) offsets[k] = start * InnerStrides[k];
                    row(offsets, length);
                });
            return;
        }
        Action<int, int> rows = (first, count) =>
        {
            var offsets = new int[operands];
            for (int r = first; r < first + count; r++)
            {
                RowOffsets(r, offsets);
                row(offsets, Inner);
            }
        };
        if (serial) rows(0, Rows);
        else Ranges.ByWork(Rows, Inner, rows);
    }

    /// <summary>One inner run: each operand's offset at its start, and its length.</summary>
    public delegate void RowAction(int[] offsets, int length);
}
