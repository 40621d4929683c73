namespace Hybrid.Core.Gpu;

/// <summary>One result of an <see cref="EncodingIndex"/> search: the stored row and its inner product with the query
/// (for CKA encodings, the linear CKA of the two layers).</summary>
/// <param name="Row">The row of the index, 0-based, in the order the encodings were given to
/// <see cref="EncodingIndex.Build(Device, ReadOnlySpan{float}, int, int, ReadOnlySpan{int})"/>.</param>
/// <param name="Score">The inner product, in float32.</param>
public readonly record struct SearchHit(int Row, float Score)
{
    /// <summary>The order of search results, a strict total order on (score, row): the higher score first, and of equal
    /// scores the lower row. Every backend selects and sorts by this one rule, so a top-k set is unique and does not depend
    /// on how the work was split. ILGPU kernels call it too, hence scalars rather than hits.</summary>
    internal static bool Precedes(float score, int row, float otherScore, int otherRow) =>
        score > otherScore || (score == otherScore && row < otherRow);

    /// <summary><see cref="Precedes"/> as a comparison for sorting.</summary>
    internal static int Compare(SearchHit a, SearchHit b) =>
        Precedes(a.Score, a.Row, b.Score, b.Row) ? -1 : Precedes(b.Score, b.Row, a.Score, a.Row) ? 1 : 0;
}
