using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Hybrid.Core.Nn;

/// <summary>The two products of <see cref="Functional.SparseLinear(SparseRows, Tensor, Tensor?)"/>, one slab of 64 output
/// columns at a time: the slab's part of the weight (or of the weight's gradient) lives transposed in a scratch of
/// in x 64 floats that stays in cache, instead of the whole weight being transposed through memory (it was, on every
/// training step, forward and backward, and the first layer of the naming classifier spent as long moving its weight and
/// gradient as multiplying them). Within a slab, a row's (or a column's) nonzeros are added into four AVX-512 registers,
/// so each nonzero costs one load of a weight (or gradient) row and its multiply-add, not also a load and a store of
/// the destination. Every element still gets its products added one at a time, in the order of the nonzeros, each
/// product rounded before its addition (no fused multiply-add), as the plain loop of vector multiply-adds gave: the
/// same bits, whatever the slabs.</summary>
internal static class SparseRowProducts
{
    /// <summary>Columns per register block (four Vector512 of float), and output columns per slab.</summary>
    public const int Slab = 64;

    /// <summary>y[r, o0 .. o0 + width) = b + sum over row r's nonzeros j, in order, of x[r, k_j] w[o, k_j], for every row;
    /// w is (n, in) row-major, y is (rows, n), b (n) or null for zeros; width is at most <see cref="Slab"/> and scratch
    /// holds at least in x width floats (the slab of w transposed).</summary>
    public static void Forward(SparseRows x, float[] w, float[]? b, float[] y, int n, int o0, int width, float[] scratch)
    {
        int inFeatures = x.Columns;
        Gpu.Cpu.Transposition.Serial(w.AsSpan(o0 * inFeatures, width * inFeatures), width, inFeatures, scratch);
        for (int r = 0; r < x.Rows; r++)
        {
            var yr = y.AsSpan(r * n + o0, width);
            if (b is not null) b.AsSpan(o0, width).CopyTo(yr);
            else yr.Clear();
            AddProducts(scratch, width, 0, width, x.Indices, x.Values, x.RowStart[r], x.RowStart[r + 1], y, r * n + o0);
        }
    }

    /// <summary>dW[o0 .. o0 + width, :] = (dY^T x) from the nonzeros alone, into gw (n, in) row-major: column k of the
    /// slab sums x[r, k] dY[r, o0 .. o0 + width) over the rows r that hold column k, in row order (as a pass over the
    /// rows would add them), into row k of the scratch (in x width floats), which is then transposed into place; the
    /// columns no row holds get zeros.</summary>
    public static void WeightGradient(Columns columns, float[] dy, int n, int o0, int width, float[] scratch, float[] gw)
    {
        int inFeatures = columns.Start.Length - 1;
        for (int k = 0; k < inFeatures; k++)
        {
            scratch.AsSpan(k * width, width).Clear();
            AddProducts(dy, n, o0, width, columns.Rows, columns.Values, columns.Start[k], columns.Start[k + 1], scratch,
                k * width);
        }
        Gpu.Cpu.Transposition.Serial(scratch, inFeatures, width, gw.AsSpan(o0 * inFeatures, width * inFeatures));
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

    /// <summary>dst[at .. at + width) += sum over j in [start, end), in order, of values[j] src[keys[j] n + c0 ..][..width]:
    /// whole blocks in registers, the columns past them by one vector multiply-add per nonzero.</summary>
    static void AddProducts(float[] src, int n, int c0, int width, int[] keys, float[] values, int start, int end,
        float[] dst, int at)
    {
        int c = Vector512.IsHardwareAccelerated ? width / Slab * Slab : 0;
        for (int block = 0; block < c; block += Slab)
            Accumulate(src, n, c0 + block, keys, values, start, end, dst, at + block);
        if (c == width) return;
        var tail = dst.AsSpan(at + c, width - c);
        for (int j = start; j < end; j++)
            TensorPrimitives.MultiplyAdd(src.AsSpan(keys[j] * n + c0 + c, width - c), values[j], tail, tail);
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
