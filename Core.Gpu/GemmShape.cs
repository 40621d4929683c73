namespace Hybrid.Core.Gpu;

/// <summary>Whether a GEMM operand is used as stored (row-major) or transposed.</summary>
public enum Transpose { No, Yes }

/// <summary>C = alpha * op(A) * op(B) + beta * C in row-major storage; op(A) is M x K, op(B) is K x N, C is M x N.
/// Leading dimensions are the row strides of the matrices as stored.</summary>
public readonly record struct GemmShape(
    Transpose TransA, Transpose TransB, int M, int N, int K, float Alpha, int Lda, int Ldb, float Beta, int Ldc)
{
    /// <summary>Rows and columns of A as stored.</summary>
    public (int Rows, int Cols) AStored => TransA == Transpose.No ? (M, K) : (K, M);
    /// <summary>Rows and columns of B as stored.</summary>
    public (int Rows, int Cols) BStored => TransB == Transpose.No ? (K, N) : (N, K);

    /// <summary>A row-major GEMM with tight leading dimensions (at least 1, as BLAS requires, when a dimension is empty).</summary>
    public static GemmShape Dense(Transpose ta, Transpose tb, int m, int n, int k, float alpha = 1f, float beta = 0f) =>
        new(ta, tb, m, n, k, alpha, Math.Max(1, ta == Transpose.No ? k : m), Math.Max(1, tb == Transpose.No ? n : k), beta, Math.Max(1, n));
}
