namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The single GEMM entry of the Cpu backend: OpenBLAS when it loaded, else (or when forced) the managed GEMM.
/// OpenBLAS is held to one thread and the cores are shared out here instead: a large GEMM is cut into slabs of C, and kernels
/// that already run on every core (convolutions over image chunks) call <c>Serial</c>. Two thread pools spinning on two cores
/// would otherwise take turns stalling each other. The slabs follow the shape alone, never the core count: OpenBLAS picks
/// its kernel (and so the order of each dot product's additions) from the sizes of the call, so slabs cut per core would
/// give results whose bits change with the machine.</summary>
internal static unsafe class Sgemm
{
    /// <summary>Multiply-adds below which splitting a GEMM across cores costs more than it saves.</summary>
    const long SplitWork = 1L << 21;

    /// <summary>Slabs of a split GEMM: at most this many (twice the cores of the machines it was measured on, so a core slowed by
    /// other work leaves some to the other), each at least <see cref="SlabWidth"/> rows or columns of C where there are enough:
    /// every slab packs the whole of the operand that is not split, so more slabs cost more packing.</summary>
    const int MaxSlabs = 4, SlabWidth = 64;

    static Sgemm()
    {
        if (OpenBlas.Available) OpenBlas.SetThreads(1);
    }

    /// <summary>Routes every GEMM to the managed implementation even when OpenBLAS is present (set through
    /// <see cref="CpuGemm.ManagedForced"/>).</summary>
    public static bool ForceManaged { get; set; }

    public static bool UsesOpenBlas => OpenBlas.Available && !ForceManaged;

    /// <summary>C = alpha op(A) op(B) + beta C on all cores; beta = 0 never reads C (OpenBLAS clears C first when beta is 0).</summary>
    public static void Run(in GemmShape g, float* a, float* b, float* c)
    {
        if (g.M == 0 || g.N == 0) return;
        if (!UsesOpenBlas)
        {
            ManagedGemm.Run(g, a, b, c, parallel: true);
            return;
        }
        bool byRows = g.M >= g.N;
        int extent = byRows ? g.M : g.N;
        int parts = (long)g.M * g.N * g.K >= SplitWork ? Math.Clamp(extent / SlabWidth, Math.Min(2, extent / 16), MaxSlabs) : 1;
        if (parts <= 1)
        {
            Serial(g, a, b, c);
            return;
        }
        var shape = g;
        var (pa, pb, pc) = ((nint)a, (nint)b, (nint)c);
        Parallel.For(0, parts, p =>
        {
            // Slab edges on multiples of 16 keep the pieces' micro-kernel tiles whole.
            int lo = Edge(extent, p, parts), hi = Edge(extent, p + 1, parts);
            if (hi <= lo) return;
            if (byRows)
                Serial(shape with { M = hi - lo }, (float*)pa + (shape.TransA == Transpose.No ? (long)lo * shape.Lda : lo), (float*)pb,
                    (float*)pc + (long)lo * shape.Ldc);
            else
                Serial(shape with { N = hi - lo }, (float*)pa, (float*)pb + (shape.TransB == Transpose.No ? lo : (long)lo * shape.Ldb),
                    (float*)pc + lo);
        });
    }

    /// <summary>The same on the calling thread only.</summary>
    public static void Serial(in GemmShape g, float* a, float* b, float* c)
    {
        if (g.M == 0 || g.N == 0) return;
        if (UsesOpenBlas) OpenBlas.Sgemm(g.TransA, g.TransB, g.M, g.N, g.K, g.Alpha, a, g.Lda, b, g.Ldb, g.Beta, c, g.Ldc);
        else ManagedGemm.Run(g, a, b, c, parallel: false);
    }

    /// <summary>On all cores when <paramref name="parallel"/>, else on the calling thread (for callers that may or may not be one
    /// of several workers).</summary>
    public static void Run(in GemmShape g, float* a, float* b, float* c, bool parallel)
    {
        if (parallel) Run(g, a, b, c);
        else Serial(g, a, b, c);
    }

    /// <summary><see cref="Run(in GemmShape, float*, float*, float*)"/> on arrays, each matrix at element 0.</summary>
    public static void Run(in GemmShape g, float[] a, float[] b, float[] c)
    {
        fixed (float* pa = a, pb = b, pc = c) Run(g, pa, pb, pc);
    }


    static int Edge(int extent, int p, int parts) => p == parts ? extent : Math.Min(extent, (int)((long)extent * p / parts + 15) & ~15);
}
