namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The float64 matrix product of the mixture passes, on the calling thread: OpenBLAS when <see cref="Sgemm"/> uses
/// it (touching Sgemm also holds OpenBLAS to one thread: callers already run on every core), else a plain row-order loop.
/// The fallback only needs to be correct and not slow; the shapes are small (a block of rows times d x kd).</summary>
internal static unsafe class DoubleBlas
{
    /// <summary>Whether calls go to OpenBLAS (false when it is absent or the managed GEMM is forced).</summary>
    public static bool UsesOpenBlas => Sgemm.UsesOpenBlas;

    /// <summary>Row-major C = A B with A m x k (leading dimension lda), B k x n (ldb), C m x n (ldc); C is not read.</summary>
    public static void Multiply(bool openBlas, int m, int n, int k, double* a, int lda, double* b, int ldb, double* c, int ldc)
    {
        if (openBlas)
        {
            OpenBlas.Dgemm(Transpose.No, Transpose.No, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
            return;
        }
        for (int i = 0; i < m; i++)
        {
            double* row = c + (long)i * ldc;
            new Span<double>(row, n).Clear();
            for (int p = 0; p < k; p++) AddScaled(row, b + (long)p * ldb, a[(long)i * lda + p], n);
        }
    }

    /// <summary>Row-major C = Aᵀ B with A k x m (leading dimension lda), B k x n (ldb), C m x n (ldc); C is not read.</summary>
    public static void MultiplyTransposed(bool openBlas, int m, int n, int k, double* a, int lda, double* b, int ldb, double* c,
        int ldc)
    {
        if (openBlas)
        {
            OpenBlas.Dgemm(Transpose.Yes, Transpose.No, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
            return;
        }
        for (int i = 0; i < m; i++) new Span<double>(c + (long)i * ldc, n).Clear();
        for (int p = 0; p < k; p++)
            for (int i = 0; i < m; i++) AddScaled(c + (long)i * ldc, b + (long)p * ldb, a[(long)p * lda + i], n);
    }

    // destination[0..count) += factor * source[0..count)
    static void AddScaled(double* destination, double* source, double factor, int count)
    {
        int e = 0;
        var f = Vector256.Create(factor);
        for (; e <= count - Vector256<double>.Count; e += Vector256<double>.Count)
            (Vector256.Load(destination + e) + f * Vector256.Load(source + e)).Store(destination + e);
        for (; e < count; e++) destination[e] += factor * source[e];
    }
}
