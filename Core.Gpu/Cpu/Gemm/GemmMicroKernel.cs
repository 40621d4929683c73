namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The innermost piece of the managed GEMM: an MR x NR block of C from a packed MR-tall sliver of A and a packed
/// NR-wide sliver of B. 6 x 16 keeps twelve 8-float accumulators plus two B vectors and one broadcast in the sixteen YMM registers.</summary>
internal static unsafe class GemmMicroKernel
{
    public const int MR = 6, NR = 16;

    static readonly bool UseFma = Fma.IsSupported && Avx.IsSupported;

    /// <summary>C[0..mr, 0..nr) (row stride ldc) = alpha * Ap Bp + (overwrite ? beta C, where beta 0 reads nothing : C).
    /// <paramref name="overwrite"/> is true for the first KC block, whose result replaces beta C; later blocks add.</summary>
    public static void Run(int kc, float* ap, float* bp, float* c, int ldc, int mr, int nr, float alpha, float beta, bool overwrite)
    {
        float* tile = stackalloc float[MR * NR];
        if (UseFma) Vector(kc, ap, bp, tile);
        else Scalar(kc, ap, bp, tile);
        Store(tile, c, ldc, mr, nr, alpha, beta, overwrite);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Vector(int kc, float* ap, float* bp, float* tile)
    {
        // Unrolled register tile: the JIT keeps named locals in the 16 YMM registers but spills any array or loop of vectors.
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++, ap += MR, bp += NR)
        {
            var b0 = Avx.LoadVector256(bp);
            var b1 = Avx.LoadVector256(bp + 8);
            var a = Vector256.Create(ap[0]);
            c00 = Fma.MultiplyAdd(a, b0, c00); c01 = Fma.MultiplyAdd(a, b1, c01);
            a = Vector256.Create(ap[1]);
            c10 = Fma.MultiplyAdd(a, b0, c10); c11 = Fma.MultiplyAdd(a, b1, c11);
            a = Vector256.Create(ap[2]);
            c20 = Fma.MultiplyAdd(a, b0, c20); c21 = Fma.MultiplyAdd(a, b1, c21);
            a = Vector256.Create(ap[3]);
            c30 = Fma.MultiplyAdd(a, b0, c30); c31 = Fma.MultiplyAdd(a, b1, c31);
            a = Vector256.Create(ap[4]);
            c40 = Fma.MultiplyAdd(a, b0, c40); c41 = Fma.MultiplyAdd(a, b1, c41);
            a = Vector256.Create(ap[5]);
            c50 = Fma.MultiplyAdd(a, b0, c50); c51 = Fma.MultiplyAdd(a, b1, c51);
        }
        c00.Store(tile); c01.Store(tile + 8);
        c10.Store(tile + 16); c11.Store(tile + 24);
        c20.Store(tile + 32); c21.Store(tile + 40);
        c30.Store(tile + 48); c31.Store(tile + 56);
        c40.Store(tile + 64); c41.Store(tile + 72);
        c50.Store(tile + 80); c51.Store(tile + 88);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Scalar(int kc, float* ap, float* bp, float* tile)
    {
        Simd.Zero(tile, MR * NR);
        for (int p = 0; p < kc; p++, ap += MR, bp += NR)
            for (int i = 0; i < MR; i++)
            {
                float a = ap[i];
                float* row = tile + i * NR;
                for (int j = 0; j < NR; j++) row[j] += a * bp[j];
            }
    }

    /// <summary>Merges the finished tile into C; only the mr x nr corner is real (the packing padded the rest with zeros).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Store(float* tile, float* c, int ldc, int mr, int nr, float alpha, float beta, bool overwrite)
    {
        for (int i = 0; i < mr; i++)
        {
            float* row = c + (long)i * ldc;
            float* t = tile + i * NR;
            if (!overwrite)
                for (int j = 0; j < nr; j++) row[j] += alpha * t[j];
            else if (beta == 0f)
                for (int j = 0; j < nr; j++) row[j] = alpha * t[j];
            else
                for (int j = 0; j < nr; j++) row[j] = alpha * t[j] + beta * row[j];
        }
    }
}
