using ILGPU;
using ILGPU.Runtime;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>Launch parameters of <see cref="SearchSelection.Select"/>: a block of scores (queries x Rows, query-major)
/// whose row r is index row FirstRow + r, cut into Lists interleaved row sets per query.</summary>
internal readonly struct SelectParams(int rows, int lists, int k, int firstRow)
{
    public readonly int Rows = rows, Lists = lists, K = k, FirstRow = firstRow;
}

/// <summary>Launch parameters of <see cref="SearchSelection.Merge"/>: per query, InLists input lists (stored InLists per
/// query) merge into OutLists output lists, each from Fan consecutive inputs; output list l of query q is list
/// OutOffset + l of a layout with OutStride lists per query.</summary>
internal readonly struct MergeParams(int inLists, int outLists, int outStride, int outOffset, int k)
{
    public readonly int InLists = inLists, OutLists = outLists, OutStride = outStride, OutOffset = outOffset, K = k;
    public readonly int Fan = (inLists + outLists - 1) / outLists;
}

/// <summary>The top-k selection kernels of the search. A list is k (score, row) slots sorted by
/// <see cref="SearchHit.Precedes"/>, its unused tail marked by row -1. Each thread owns one list in global memory and keeps
/// the count and the last entry in registers, so a candidate that cannot enter costs one comparison; the few that can
/// (about k ln(n/k) of n scores) are inserted in place.</summary>
internal static class SearchSelection
{
    const int Empty = -1;

    /// <summary>Thread (query q, list t) scans rows t, t + Lists, ... of q's scores (consecutive threads read consecutive
    /// scores, so reads coalesce), skips q's excluded group, and writes the best k as list q * Lists + t.</summary>
    public static void Select(Index1D index, ArrayView<float> scores, ArrayView<int> groups, ArrayView<int> exclude,
        ArrayView<float> outScores, ArrayView<int> outRows, SelectParams p)
    {
        int thread = index, query = thread / p.Lists, first = thread * p.K;
        Clear(outRows, first, p.K);
        int skip = exclude[query], count = 0, worstRow = 0, source = query * p.Rows;
        float worstScore = 0f;
        for (int r = thread % p.Lists; r < p.Rows; r += p.Lists)
        {
            float score = scores[source + r];
            int row = p.FirstRow + r;
            if (count == p.K && !SearchHit.Precedes(score, row, worstScore, worstRow)) continue;
            if (skip != EncodingIndex.NoGroup && groups[r] == skip) continue;
            count = Insert(outScores, outRows, first, count, p.K, score, row);
            worstScore = outScores[first + count - 1];
            worstRow = outRows[first + count - 1];
        }
    }

    /// <summary>Thread (query q, output list t) merges input lists t * Fan .. t * Fan + Fan - 1 of q into one.</summary>
    public static void Merge(Index1D index, ArrayView<float> inScores, ArrayView<int> inRows, ArrayView<float> outScores,
        ArrayView<int> outRows, MergeParams p)
    {
        int thread = index, query = thread / p.OutLists, list = thread % p.OutLists;
        int first = (query * p.OutStride + p.OutOffset + list) * p.K;
        Clear(outRows, first, p.K);
        int count = 0, worstRow = 0, end = Math.Min(p.InLists, (list + 1) * p.Fan);
        float worstScore = 0f;
        for (int l = list * p.Fan; l < end; l++)
        {
            int source = (query * p.InLists + l) * p.K;
            for (int j = 0; j < p.K; j++)
            {
                int row = inRows[source + j];
                if (row == Empty) break;
                float score = inScores[source + j];
                // Input lists are sorted: once an entry cannot enter, neither can the rest of its list.
                if (count == p.K && !SearchHit.Precedes(score, row, worstScore, worstRow)) break;
                count = Insert(outScores, outRows, first, count, p.K, score, row);
                worstScore = outScores[first + count - 1];
                worstRow = outRows[first + count - 1];
            }
        }
    }

    static void Clear(ArrayView<int> rows, int first, int k)
    {
        for (int j = 0; j < k; j++) rows[first + j] = Empty;
    }

    /// <summary>Inserts into the list at <paramref name="first"/> holding <paramref name="count"/> entries an entry that
    /// belongs in it (the caller has checked that a full list's last entry is worse); returns the new count.</summary>
    static int Insert(ArrayView<float> scores, ArrayView<int> rows, int first, int count, int k, float score, int row)
    {
        int j = first + (count < k ? count : k - 1);
        while (j > first && SearchHit.Precedes(score, row, scores[j - 1], rows[j - 1]))
        {
            scores[j] = scores[j - 1];
            rows[j] = rows[j - 1];
            j--;
        }
        scores[j] = score;
        rows[j] = row;
        return count < k ? count + 1 : k;
    }
}
