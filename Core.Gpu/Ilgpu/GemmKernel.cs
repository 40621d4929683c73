using ILGPU;
using ILGPU.Runtime;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>Launch parameters of one (possibly batched) row-major SGEMM: C_z = alpha op(A_z) op(B_z) + beta C_z for
/// z = 0..Batch-1, where operand X_z starts at OffsetX + z * StrideX. Convolutions use the batch for their groups.
/// The transposes are stored as ints because kernel parameters must be blittable, which bool is not.</summary>
internal readonly struct GemmParams(
    int m, int n, int k, float alpha, float beta, bool transA, bool transB, int lda, int ldb, int ldc,
    int strideA = 0, int strideB = 0, int strideC = 0, int batch = 1)
{
    public readonly int M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc;
    public readonly float Alpha = alpha, Beta = beta;
    public readonly int TransA = transA ? 1 : 0, TransB = transB ? 1 : 0;
    public readonly int StrideA = strideA, StrideB = strideB, StrideC = strideC, Batch = batch;

    public static GemmParams From(in GemmShape g) =>
        new(g.M, g.N, g.K, g.Alpha, g.Beta, g.TransA == Transpose.Yes, g.TransB == Transpose.Yes, g.Lda, g.Ldb, g.Ldc);
}

/// <summary>A tiled SGEMM: each group of 16 x 16 threads computes a 64 x 64 block of C, each thread a 4 x 4 sub-block
/// strided by 16 (so the threads of a warp touch adjacent columns of C). Per step of 16 along K, the group stages a
/// 64 x 16 slice of op(A) and a 16 x 64 slice of op(B) in shared memory, which every thread then reuses 4 times.</summary>
internal static class GemmKernel
{
    const int Threads = 16;             // threads per group along each axis
    const int Block = 64;               // C block per group along each axis (4 per thread)
    const int Depth = 16;               // K step staged per barrier round
    const int Pitch = Block + 1;        // shared row pitch; the pad spreads column-wise stores over the banks
    const int Loads = Block * Depth / (Threads * Threads); // elements each thread stages per operand per step

    public static Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams> Load(Accelerator accelerator) =>
        accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmParams>(Run);

    /// <summary>CUDA's limit on the grid's Y extent; taller problems loop over row blocks inside the kernel.</summary>
    const int MaxGridY = 65535;

    /// <summary>The grid for <paramref name="p"/>: blocks of N along X (no practical limit), of M along Y, batch along Z.</summary>
    public static KernelConfig Config(in GemmParams p) =>
        new(new Index3D((p.N + Block - 1) / Block, Math.Min((p.M + Block - 1) / Block, MaxGridY), p.Batch), new Index3D(Threads, Threads, 1));

    static void Run(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmParams p)
    {
        var sa = SharedMemory.Allocate1D<float>(Depth * Pitch); // sa[k * Pitch + m] = op(A)[row0 + m, k0 + k]
        var sb = SharedMemory.Allocate1D<float>(Depth * Pitch); // sb[k * Pitch + n] = op(B)[k0 + k, col0 + n]
        int tx = Group.IdxX, ty = Group.IdxY, thread = ty * Threads + tx;
        int col0 = Grid.IdxX * Block, z = Grid.IdxZ;
        int baseA = z * p.StrideA, baseB = z * p.StrideB, baseC = z * p.StrideC;
        bool transA = p.TransA != 0, transB = p.TransB != 0;

        for (int row0 = Grid.IdxY * Block; row0 < p.M; row0 += Grid.DimY * Block)
        {
            // Unrolled register tile (4 x 4 per thread): ILGPU keeps scalars in registers but puts a local array in slow local memory.
            float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
            float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
            for (int k0 = 0; k0 < p.K; k0 += Depth)
            {
                for (int l = 0; l < Loads; l++)
                {
                    int e = thread + l * Threads * Threads;
                    // Consecutive threads walk the operand's contiguous axis as stored, so global reads coalesce.
                    int m = transA ? e % Block : e / Depth, ka = transA ? e / Block : e % Depth;
                    int n = transB ? e / Depth : e % Block, kb = transB ? e % Depth : e / Block;
                    int gm = row0 + m, gka = k0 + ka, gn = col0 + n, gkb = k0 + kb;
                    sa[ka * Pitch + m] = gm < p.M && gka < p.K ? a[baseA + (transA ? gka * p.Lda + gm : gm * p.Lda + gka)] : 0f;
                    sb[kb * Pitch + n] = gn < p.N && gkb < p.K ? b[baseB + (transB ? gn * p.Ldb + gkb : gkb * p.Ldb + gn)] : 0f;
                }
                Group.Barrier();
                for (int k = 0; k < Depth; k++)
                {
                    int ra = k * Pitch + ty, rb = k * Pitch + tx;
                    float a0 = sa[ra], a1 = sa[ra + 16], a2 = sa[ra + 32], a3 = sa[ra + 48];
                    float b0 = sb[rb], b1 = sb[rb + 16], b2 = sb[rb + 32], b3 = sb[rb + 48];
                    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
                }
                // The next round overwrites the tiles; nobody may still be reading them.
                Group.Barrier();
            }

            int r = row0 + ty, q = col0 + tx;
            Store(c, p, baseC, r, q, c00); Store(c, p, baseC, r, q + 16, c01); Store(c, p, baseC, r, q + 32, c02); Store(c, p, baseC, r, q + 48, c03);
            r += 16;
            Store(c, p, baseC, r, q, c10); Store(c, p, baseC, r, q + 16, c11); Store(c, p, baseC, r, q + 32, c12); Store(c, p, baseC, r, q + 48, c13);
            r += 16;
            Store(c, p, baseC, r, q, c20); Store(c, p, baseC, r, q + 16, c21); Store(c, p, baseC, r, q + 32, c22); Store(c, p, baseC, r, q + 48, c23);
            r += 16;
            Store(c, p, baseC, r, q, c30); Store(c, p, baseC, r, q + 16, c31); Store(c, p, baseC, r, q + 32, c32); Store(c, p, baseC, r, q + 48, c33);
        }
    }

    /// <summary>Writes one element of C; with beta 0, C is not read, so NaN or garbage there cannot leak into the result.</summary>
    static void Store(ArrayView<float> c, GemmParams p, int baseC, int row, int col, float sum)
    {
        if (row >= p.M || col >= p.N) return;
        int index = baseC + row * p.Ldc + col;
        c[index] = p.Beta == 0f ? p.Alpha * sum : p.Alpha * sum + p.Beta * c[index];
    }
}
