using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Hybrid.Core.Nn;

/// <summary>The two products of <see cref="Functional.SparseLinear(SparseRows, Tensor, Tensor?)"/> with a block of 64
/// output columns held in four AVX-512 registers while a row's (or a column's) nonzeros are added into it, so each
/// nonzero costs one load of a weight (or gradient) row and its multiply-add, not also a load and a store of the
/// destination. Every element still gets its products added one at a time, in the order of the nonzeros, each product
/// rounded before its addition (no fused multiply-add), as the plain loop of vector multiply-adds gave: the same bits.</summary>
internal static class SparseRowProducts
{
    /// <summary>Columns per register block (four Vector512 of float).</summary>
    const int Block = 64;

    /// <summary>y[r, :] = b + sum over row r's nonzeros j, in order, of x[r, k_j] wt[k_j, :] for the rows [first,
    /// first + count); wt is (in, n), y is (rows, n), b (n) or null for zeros.</summary>
    public static void Forward(SparseRows x, float[] wt, float[]? b, float[] y, int n, int first, int count)
    {
        for (int r = first; r < first + count; r++)
        {
            int start = x.RowStart[r], end = x.RowStart[r + 1];
            var yr = y.AsSpan(r * n, n);
            if (b is not null) b.CopyTo(yr);
            else yr.Clear();
            AddProducts(wt, n, x.Indices, x.Values, start, end, y, r * n);
        }
    }

    /// <summary>dW^T = x^T dY, (in, n), from the nonzeros alone: row k of dW^T sums x[r, k] dY[r, :] over the rows r
    /// that hold column k, in row order (as a pass over the rows would add them), 64 columns at a time in registers;
    /// the rows of columns no row holds are zero. The columns [first, first + count) of x are written.</summary>
    public static void WeightGradientT(Columns columns, float[] dy, int n, float[] gwt, int first, int count)
    {
        for (int k = first; k < first + count; k++)
        {
            int start = columns.Start[k], end = columns.Start[k + 1];
            gwt.AsSpan(k * n, n).Clear();
            AddProducts(dy, n, columns.Rows, columns.Values, start, end, gwt, k * n);
        }
    }

    /// <summary>x's nonzeros by column (compressed sparse column form): column k's nonzeros are
    /// <c>[Start[k], Start[k+1])</c>, each with its row and value, in row order (and within a row, in the row's order).</summary>
    public sealed record Columns(int[] Start, int[] Rows, float[] Values);

    /// <summary>x by column, by a stable counting sort of its nonzeros.</summary>
    public static Columns ByColumn(SparseRows x)
    {
        var start = new int[x.Columns + 1];
        foreach (var k in x.Indices) start[k + 1]++;
        for (int k = 0; k < x.Columns; k++) start[k + 1] += start[k];
        var next = start[..^1];
        var rows = new int[x.Indices.Length];
        var values = new float[x.Indices.Length];
        for (int r = 0; r < x.Rows; r++)
            for (int j = x.RowStart[r]; j < x.RowStart[r + 1]; j++)
            {
                int at = next[x.Indices[j]]++;
                rows[at] = r;
                values[at] = x.Values[j];
            }
        return new Columns(start, rows, values);
    }

    /// <summary>dst[at .. at + n) += sum over j in [start, end), in order, of values[j] src[keys[j] n ..][..n]: whole
    /// blocks in registers, the columns past them by one vector multiply-add per nonzero.</summary>
    static void AddProducts(float[] src, int n, int[] keys, float[] values, int start, int end, float[] dst, int at)
    {
        int c = Vector512.IsHardwareAccelerated ? n / Block * Block : 0;
        for (int c0 = 0; c0 < c; c0 += Block)
            Accumulate(src, n, c0, keys, values, start, end, dst, at + c0);
        if (c == n) return;
        var tail = dst.AsSpan(at + c, n - c);
        for (int j = start; j < end; j++)
            TensorPrimitives.MultiplyAdd(src.AsSpan(keys[j] * n + c, n - c), values[j], tail, tail);
    }

    /// <summary>dst[at .. at + 64] += sum over j in [start, end), in order, of values[j] src[keys[j] n + c0 ..], each
    /// product rounded and then added; dst's block is read once and written once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Accumulate(float[] src, int n, int c0, int[] keys, float[] values, int start, int end, float[] dst, int at)
    {
        ref float s = ref MemoryMarshal.GetArrayDataReference(src);
        ref float d = ref MemoryMarshal.GetArrayDataReference(dst);
        var a0 = Vector512.LoadUnsafe(ref d, (nuint)at);
        var a1 = Vector512.LoadUnsafe(ref d, (nuint)at + 16);
        var a2 = Vector512.LoadUnsafe(ref d, (nuint)at + 32);
        var a3 = Vector512.LoadUnsafe(ref d, (nuint)at + 48);
        for (int j = start; j < end; j++)
        {
            var v = Vector512.Create(values[j]);
            nuint o = (nuint)keys[j] * (nuint)n + (nuint)c0;
            a0 += Vector512.LoadUnsafe(ref s, o) * v;
            a1 += Vector512.LoadUnsafe(ref s, o + 16) * v;
            a2 += Vector512.LoadUnsafe(ref s, o + 32) * v;
            a3 += Vector512.LoadUnsafe(ref s, o + 48) * v;
        }
        a0.StoreUnsafe(ref d, (nuint)at);
        a1.StoreUnsafe(ref d, (nuint)at + 16);
        a2.StoreUnsafe(ref d, (nuint)at + 32);
        a3.StoreUnsafe(ref d, (nuint)at + 48);
    }
}
