namespace Hybrid.Core.Nn;

/// <summary>torch.matmul's shape rules as a list of matrix products: a 1-D left operand is a row (its M dimension is
/// dropped from the result), a 1-D right operand a column (N dropped), and the leading dimensions of both broadcast.
/// Output matrix i is A[AIndex[i]] x B[BIndex[i]], where A and B are the operands read as stacks of M x K and K x N
/// matrices.</summary>
internal sealed record MatmulPlan(int M, int N, int K, int[] OutputShape, int[] AIndex, int[] BIndex)
{
    /// <summary>0, 1, ..., count - 1: the output's own matrix indices.</summary>
    public int[] Identity { get; } = Enumerable.Range(0, AIndex.Length).ToArray();

    public static MatmulPlan For(string op, int[] a, int[] b)
    {
        string shapes = $"{ShapeOps.Format(a)} and {ShapeOps.Format(b)}";
        if (a.Length == 0 || b.Length == 0)
            throw new ArgumentException($"{op}: operands {shapes} must have at least one dimension each");
        bool rowVector = a.Length == 1, columnVector = b.Length == 1;
        int m = rowVector ? 1 : a[^2], k = a[^1];
        int kb = columnVector ? b[0] : b[^2], n = columnVector ? 1 : b[^1];
        if (k != kb)
            throw new ArgumentException($"{op}: shapes {shapes} cannot be multiplied ({k} columns against {kb} rows)");
        var batchA = a.Length > 2 ? a[..^2] : [];
        var batchB = b.Length > 2 ? b[..^2] : [];
        int[] batch;
        try { batch = ShapeOps.Broadcast(batchA, batchB); }
        catch (ArgumentException)
        {
            throw new ArgumentException($"{op}: the batch dimensions of {shapes} cannot be broadcast together");
        }
        var output = new List<int>(batch);
        if (!rowVector) output.Add(m);
        if (!columnVector) output.Add(n);

        int count = ShapeOps.Numel(batch);
        var (stridesA, stridesB) = (ShapeOps.BroadcastStrides(batchA, batch), ShapeOps.BroadcastStrides(batchB, batch));
        var (aIndex, bIndex) = (new int[count], new int[count]);
        var position = new int[batch.Length];
        for (int i = 0; i < count; i++)
        {
            for (int d = 0; d < batch.Length; d++)
            {
                aIndex[i] += position[d] * stridesA[d];
                bIndex[i] += position[d] * stridesB[d];
            }
            for (int d = batch.Length - 1; d >= 0 && ++position[d] == batch[d]; d--) position[d] = 0;
        }
        return new MatmulPlan(m, n, k, output.ToArray(), aIndex, bIndex);
    }
}
