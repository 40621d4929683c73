namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Bounded best-first lists of search hits, one per query, each holding at most k (score, row) pairs sorted by
/// <see cref="SearchHit.Precedes"/>. Scans test a score against <see cref="Threshold"/> first, so the insertion runs
/// only for the few scores that can enter (about k ln(n/k) of n random scores).</summary>
internal sealed class SearchTopK
{
    readonly int k;
    readonly float[] scores;
    readonly int[] rows;
    readonly int[] counts;

    public SearchTopK(int lists, int k)
    {
        this.k = k;
        scores = new float[lists * k];
        rows = new int[lists * k];
        counts = new int[lists];
    }

    /// <summary>Empties every list.</summary>
    public void Clear() => Array.Clear(counts);

    /// <summary>A score below this cannot enter <paramref name="list"/> (negative infinity while the list is not full);
    /// an equal score enters only with a lower row than the last entry's, which <see cref="Offer"/> decides.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Threshold(int list) => counts[list] == k ? scores[list * k + k - 1] : float.NegativeInfinity;

    /// <summary>Inserts (score, row) into <paramref name="list"/> when it is among the best k seen, dropping the worst.</summary>
    public void Offer(int list, float score, int row)
    {
        int first = list * k, n = counts[list];
        if (n == k)
        {
            if (!SearchHit.Precedes(score, row, scores[first + k - 1], rows[first + k - 1])) return;
            n = k - 1;
        }
        else counts[list] = n + 1;
        int j = first + n;
        for (; j > first && SearchHit.Precedes(score, row, scores[j - 1], rows[j - 1]); j--)
        {
            scores[j] = scores[j - 1];
            rows[j] = rows[j - 1];
        }
        scores[j] = score;
        rows[j] = row;
    }

    /// <summary>Offers every entry of <paramref name="list"/> to <paramref name="targetList"/> of <paramref name="target"/>.
    /// The union's best k do not depend on the order lists are merged in, since the order on (score, row) is total.</summary>
    public void MergeInto(int list, SearchTopK target, int targetList)
    {
        for (int j = list * k, end = j + counts[list]; j < end; j++)
        {
            // Entries come best first: once one cannot enter, none after it can.
            if (scores[j] < target.Threshold(targetList)) break;
            target.Offer(targetList, scores[j], rows[j]);
        }
    }

    /// <summary>The entries of <paramref name="list"/>, best first.</summary>
    public SearchHit[] Hits(int list)
    {
        var hits = new SearchHit[counts[list]];
        for (int j = 0; j < hits.Length; j++) hits[j] = new SearchHit(rows[list * k + j], scores[list * k + j]);
        return hits;
    }
}
