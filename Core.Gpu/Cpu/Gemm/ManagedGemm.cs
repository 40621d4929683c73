namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Row-major SGEMM in C#, laid out as BLIS does it: C is cut into NC-wide column panels, K into KC-deep slices; each
/// slice of op(B) is packed once into NR-wide slivers, each MC-tall block of op(A) into MR-tall slivers, and the micro-kernel
/// sweeps the packed block. Work is shared across cores by (row block, column range) tasks unless the caller is itself one
/// of several parallel workers.</summary>
internal static unsafe class ManagedGemm
{
    const int MR = GemmMicroKernel.MR, NR = GemmMicroKernel.NR;
    // KC x NR of B (16 KB) stays in L1 while a sliver of A streams; MC x KC of A (~144 KB) sits in L2; KC x NC of B in L3.
    const int KC = 256, MC = 144, NC = 4096;

    /// <summary>C = alpha op(A) op(B) + beta C for the shape <paramref name="g"/>; pointers address the first element of each matrix.</summary>
    public static void Run(in GemmShape g, float* a, float* b, float* c, bool parallel)
    {
        if (g.M == 0 || g.N == 0) return;
        if (g.K == 0 || g.Alpha == 0f)
        {
            ScaleC(g, c);
            return;
        }
        var shape = g;
        var pool = ArrayPool<float>.Shared;
        int threads = parallel ? Environment.ProcessorCount : 1;
        float[] packB = pool.Rent(KC * Math.Min(NC, RoundUp(g.N, NR)));
        try
        {
            fixed (float* bp = packB)
            {
                var (pa, pb, pc, pPack) = ((nint)a, (nint)b, (nint)c, (nint)bp);
                for (int jc = 0; jc < g.N; jc += NC)
                {
                    int nc = Math.Min(NC, g.N - jc);
                    int slivers = (nc + NR - 1) / NR;
                    for (int pcol = 0; pcol < g.K; pcol += KC)
                    {
                        int kc = Math.Min(KC, g.K - pcol);
                        bool first = pcol == 0;
                        Ranges.Items(slivers, s => PackB(shape, (float*)pb, pcol, jc + s * NR, kc, Math.Min(NR, nc - s * NR), (float*)pPack + s * NR * kc), parallel);
                        // Row blocks of at most MC, and small enough that every core gets one; wide, short C splits its columns too.
                        int mc = Math.Min(MC, RoundUp((g.M + threads - 1) / threads, MR));
                        int rowBlocks = (g.M + mc - 1) / mc;
                        int colSplits = Math.Min(slivers, Math.Max(1, threads / rowBlocks));
                        int jc0 = jc;
                        Ranges.Items(rowBlocks * colSplits, task =>
                        {
                            int ic = task / colSplits * mc, part = task % colSplits;
                            int s0 = slivers * part / colSplits, s1 = slivers * (part + 1) / colSplits;
                            Block(shape, (float*)pa, (float*)pc, (float*)pPack, ic, Math.Min(mc, shape.M - ic), pcol, kc, jc0, nc, s0, s1, first);
                        }, parallel);
                    }
                }
            }
        }
        finally { pool.Return(packB); }
    }

    /// <summary>Packs rows [ic, ic+mc) of op(A) over the K slice and runs the micro-kernel over B slivers [s0, s1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block(in GemmShape g, float* a, float* c, float* packedB, int ic, int mc, int pcol, int kc, int jc, int nc, int s0, int s1, bool first)
    {
        float[] packA = ArrayPool<float>.Shared.Rent(RoundUp(mc, MR) * kc);
        try
        {
            fixed (float* ap = packA)
            {
                for (int ir = 0; ir < mc; ir += MR) PackA(g, a, ic + ir, pcol, kc, Math.Min(MR, mc - ir), ap + ir * kc);
                for (int s = s0; s < s1; s++)
                {
                    int jr = s * NR, nr = Math.Min(NR, nc - jr);
                    for (int ir = 0; ir < mc; ir += MR)
                    {
                        float* cTile = c + (long)(ic + ir) * g.Ldc + jc + jr;
                        GemmMicroKernel.Run(kc, ap + ir * kc, packedB + s * NR * kc, cTile, g.Ldc, Math.Min(MR, mc - ir), nr, g.Alpha, g.Beta, first);
                    }
                }
            }
        }
        finally { ArrayPool<float>.Shared.Return(packA); }
    }

    /// <summary>MR-tall sliver: for each p, the MR values op(A)[row0 + r, p0 + p], zero beyond <paramref name="rows"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackA(in GemmShape g, float* a, int row0, int p0, int kc, int rows, float* dst)
    {
        if (rows < MR) Simd.Zero(dst, MR * kc);
        if (g.TransA == Transpose.No)
            for (int r = 0; r < rows; r++)
            {
                float* src = a + (long)(row0 + r) * g.Lda + p0;
                for (int p = 0; p < kc; p++) dst[p * MR + r] = src[p];
            }
        else
            for (int p = 0; p < kc; p++)
            {
                float* src = a + (long)(p0 + p) * g.Lda + row0;
                for (int r = 0; r < rows; r++) dst[p * MR + r] = src[r];
            }
    }

    /// <summary>NR-wide sliver: for each p, the NR values op(B)[p0 + p, col0 + j], zero beyond <paramref name="cols"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackB(in GemmShape g, float* b, int p0, int col0, int kc, int cols, float* dst)
    {
        if (cols < NR) Simd.Zero(dst, NR * kc);
        if (g.TransB == Transpose.No)
            for (int p = 0; p < kc; p++)
                Simd.Copy(dst + p * NR, b + (long)(p0 + p) * g.Ldb + col0, cols);
        else
            for (int j = 0; j < cols; j++)
            {
                float* src = b + (long)(col0 + j) * g.Ldb + p0;
                for (int p = 0; p < kc; p++) dst[p * NR + j] = src[p];
            }
    }

    /// <summary>The alpha = 0 or K = 0 case: C = beta C, where beta = 0 writes zeros without reading C.</summary>
    static void ScaleC(in GemmShape g, float* c)
    {
        for (int i = 0; i < g.M; i++)
        {
            float* row = c + (long)i * g.Ldc;
            if (g.Beta == 0f) Simd.Zero(row, g.N);
            else if (g.Beta != 1f) Simd.Scale(row, g.Beta, g.N);
        }
    }

    static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;
}
