using ILGPU;
using ILGPU.Runtime;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>Launch parameters of <see cref="SearchRanking.ScoreKeys"/>: a piece of Rows rows (row r is index row
/// FirstRow + r) whose scores and keys sit at column Offset of a window of Segment columns per query.</summary>
internal readonly struct ScoreKeyParams(int rows, int segment, int offset, int firstRow)
{
    public readonly int Rows = rows, Segment = segment, Offset = offset, FirstRow = firstRow;
}

/// <summary>Launch parameters of <see cref="SearchRanking.Take"/>: the first K entries of each query's sorted segment of
/// Segment entries go to list OutOffset of a layout with OutStride lists of K per query.</summary>
internal readonly struct TakeParams(int segment, int k, int outStride, int outOffset)
{
    public readonly int Segment = segment, K = k, OutStride = outStride, OutOffset = outOffset;
}

/// <summary>The kernels around ILGPU.Algorithms' radix sort that make it the search's top-k selection. Each candidate gets
/// a 64-bit key: its query in the high 32 bits, its score in the low 32 bits mapped so that ascending keys are descending
/// scores. One stable sort of (key, row) pairs then orders every query's segment by <see cref="SearchHit.Precedes"/>: by
/// score, and equal scores in the order they were laid out, which is ascending row. A list is k (score, row) slots, its
/// unused tail marked by row -1.</summary>
internal static class SearchRanking
{
    const int Empty = -1;

    /// <summary>The low key half of rows that must never be chosen (excluded rows, empty slots): above every score's.</summary>
    const uint Last = uint.MaxValue;

    /// <summary>The low key half of a finite score: the float's bits made monotonic (sign flipped for positives, all bits
    /// for negatives), then complemented so that higher scores come first. -0 is taken as +0, as == takes it.</summary>
    static uint Descending(float score)
    {
        uint bits = Interop.FloatAsInt(score == 0f ? 0f : score);
        uint ascending = (bits & 0x8000_0000u) == 0 ? bits | 0x8000_0000u : ~bits;
        return ~ascending;
    }

    /// <summary>The score of a low key half made by <see cref="Descending"/>.</summary>
    static float Score(uint key)
    {
        uint ascending = ~key;
        return Interop.IntAsFloat((ascending & 0x8000_0000u) != 0 ? ascending & 0x7FFF_FFFFu : ~ascending);
    }

    static ulong Key(int query, uint low) => ((ulong)(uint)query << 32) | low;

    /// <summary>Entry (query q, row r) of a piece: its key and index row, or the last key and row -1 when r is in q's
    /// excluded group.</summary>
    public static void ScoreKeys(Index1D index, ArrayView<float> scores, ArrayView<int> groups, ArrayView<int> exclude,
        ArrayView<ulong> keys, ArrayView<int> rows, ScoreKeyParams p)
    {
        int query = index / p.Rows, r = index % p.Rows, skip = exclude[query];
        int at = query * p.Segment + p.Offset + r;
        bool excluded = skip != EncodingIndex.NoGroup && groups[r] == skip;
        keys[at] = Key(query, excluded ? Last : Descending(scores[at]));
        rows[at] = excluded ? Empty : p.FirstRow + r;
    }

    /// <summary>Entry i of lists stored densely, <paramref name="perQuery"/> entries per query: its key and row.</summary>
    public static void ListKeys(Index1D index, ArrayView<float> scores, ArrayView<int> listRows, ArrayView<ulong> keys,
        ArrayView<int> rows, int perQuery)
    {
        int row = listRows[index];
        keys[index] = Key(index / perQuery, row == Empty ? Last : Descending(scores[index]));
        rows[index] = row;
    }

    /// <summary>Slot j of query q's output list: entry j of q's sorted segment, or empty past the segment or at an
    /// excluded or empty entry (which sort after every real one).</summary>
    public static void Take(Index1D index, ArrayView<ulong> keys, ArrayView<int> rows, ArrayView<float> outScores,
        ArrayView<int> outRows, TakeParams p)
    {
        int query = index / p.K, j = index % p.K;
        int target = (query * p.OutStride + p.OutOffset) * p.K + j;
        int source = query * p.Segment + j;
        int row = j < p.Segment ? rows[source] : Empty;
        outRows[target] = row;
        outScores[target] = row == Empty ? 0f : Score((uint)keys[source]);
    }
}
