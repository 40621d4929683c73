using ILGPU;
using ILGPU.Runtime;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>Launch parameters of <see cref="GramKernel.Partial"/>: X is row-major Samples x Features (float32); the
/// features are cut into Slices consecutive slices of SliceLength (a multiple of the staging depth); the n x n output
/// is cut into Blocks x Blocks tiles of 64, of which only the upper ones (bi &lt;= bj) are computed. With one slice
/// (Direct = 1) the kernel adds straight into K, saving the partials and a launch.</summary>
internal readonly record struct GramParams(int Samples, int Features, int Slices, int SliceLength, int Blocks, int Direct);

/// <summary>K += X Xᵀ in float64 for a short, wide X (n ~ 100 probe inputs, p up to millions of features). The
/// parallelism comes from p: group (t, s) computes upper tile t of K over feature slice s into its own partial matrix
/// (no atomics), and <see cref="SumSlices"/> then adds the slices in slice order, so the result is deterministic and
/// exactly symmetric. Within a group, 16 x 16 threads each hold a 4 x 4 sub-tile (strided by 16, so a warp's threads
/// touch adjacent columns) and stage 64 x 32 slices of both row blocks, converted to float64, in shared memory.</summary>
internal static class GramKernel
{
    const int Threads = 16;             // threads per group along each axis
    public const int Block = 64;        // output tile per group along each axis (4 per thread)
    public const int Depth = 32;        // features staged per barrier round (2 x 32 x 65 doubles = 33 KB of shared memory)
    const int Pitch = Block + 1;        // shared row pitch; the pad spreads column-wise stores over the banks
    const int Loads = Block * Depth / (Threads * Threads); // elements each thread stages per row block per round

    /// <summary>Features per slice below which splitting further costs more in partial sums than it gains.</summary>
    const int MinSliceLength = 128;

    /// <summary>Most slices per launch: 256 x 3 tiles (n = 100) fill a large GPU several times over.</summary>
    const int MaxSlices = 256;

    /// <summary>Most doubles in the partial matrices of one launch (128 MB).</summary>
    const long PartialBudget = 1L << 24;

    /// <summary>The slicing of an n x p launch.</summary>
    public static GramParams Plan(int n, int p)
    {
        int blocks = (n + Block - 1) / Block;
        long byMemory = Math.Max(1, PartialBudget / ((long)n * n));
        int slices = (int)Math.Clamp(Math.Min((p + MinSliceLength - 1) / MinSliceLength, byMemory), 1, MaxSlices);
        int length = ((p + slices - 1) / slices + Depth - 1) / Depth * Depth;
        slices = (p + length - 1) / length;
        return new GramParams(n, p, slices, length, blocks, slices == 1 ? 1 : 0);
    }

    public static KernelConfig Config(in GramParams p) =>
        new(new Index2D(p.Blocks * (p.Blocks + 1) / 2, p.Slices), new Index2D(Threads, Threads));

    /// <summary>partials[s, i, j] = Σ over the features f of slice s of x[i, f] x[j, f], for the (i, j) of this group's
    /// upper tile (entries of diagonal tiles below the diagonal are written too, and ignored). When Direct, the sum is
    /// instead added to K = <paramref name="target"/> at (i, j) and, for tiles off the diagonal, at (j, i): every entry
    /// of K then has exactly one writer, and both triangles hold the same products summed in the same order.</summary>
    public static void Partial(ArrayView<float> x, ArrayView<double> target, GramParams p)
    {
        var sa = SharedMemory.Allocate1D<double>(Depth * Pitch); // sa[f * Pitch + r] = x[i0 + r, f0 + f]
        var sb = SharedMemory.Allocate1D<double>(Depth * Pitch); // sb[f * Pitch + r] = x[j0 + r, f0 + f]
        int tx = Group.IdxX, ty = Group.IdxY, thread = ty * Threads + tx;

        // Grid.IdxX enumerates the upper tiles row by row: (0, 0), (0, 1), ..., (1, 1), ...
        int tile = Grid.IdxX, bi = 0, rowTiles = p.Blocks;
        while (tile >= rowTiles)
        {
            tile -= rowTiles;
            bi++;
            rowTiles--;
        }
        int i0 = bi * Block, j0 = (bi + tile) * Block, slice = Grid.IdxY;
        int fStart = slice * p.SliceLength, fEnd = Math.Min(p.Features, fStart + p.SliceLength);

        // Unrolled register tile (4 x 4 per thread): ILGPU keeps scalars in registers but puts a local array in slow local memory.
        double c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        double c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int f0 = fStart; f0 < fEnd; f0 += Depth)
        {
            for (int l = 0; l < Loads; l++)
            {
                // Consecutive threads read consecutive features of one row, so global reads coalesce.
                int e = thread + l * Threads * Threads, r = e / Depth, f = e % Depth, gf = f0 + f;
                int ga = i0 + r, gb = j0 + r;
                sa[f * Pitch + r] = ga < p.Samples && gf < fEnd ? x[(long)ga * p.Features + gf] : 0.0;
                sb[f * Pitch + r] = gb < p.Samples && gf < fEnd ? x[(long)gb * p.Features + gf] : 0.0;
            }
            Group.Barrier();
            for (int f = 0; f < Depth; f++)
            {
                int ra = f * Pitch + ty, rb = f * Pitch + tx;
                double a0 = sa[ra], a1 = sa[ra + 16], a2 = sa[ra + 32], a3 = sa[ra + 48];
                double b0 = sb[rb], b1 = sb[rb + 16], b2 = sb[rb + 32], b3 = sb[rb + 48];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            // The next round overwrites the tiles; nobody may still be reading them.
            Group.Barrier();
        }

        long baseS = (long)slice * p.Samples;
        bool mirror = i0 != j0;
        int i = i0 + ty, j = j0 + tx;
        Put(target, p, baseS, mirror, i, j, c00); Put(target, p, baseS, mirror, i, j + 16, c01);
        Put(target, p, baseS, mirror, i, j + 32, c02); Put(target, p, baseS, mirror, i, j + 48, c03);
        i += 16;
        Put(target, p, baseS, mirror, i, j, c10); Put(target, p, baseS, mirror, i, j + 16, c11);
        Put(target, p, baseS, mirror, i, j + 32, c12); Put(target, p, baseS, mirror, i, j + 48, c13);
        i += 16;
        Put(target, p, baseS, mirror, i, j, c20); Put(target, p, baseS, mirror, i, j + 16, c21);
        Put(target, p, baseS, mirror, i, j + 32, c22); Put(target, p, baseS, mirror, i, j + 48, c23);
        i += 16;
        Put(target, p, baseS, mirror, i, j, c30); Put(target, p, baseS, mirror, i, j + 16, c31);
        Put(target, p, baseS, mirror, i, j + 32, c32); Put(target, p, baseS, mirror, i, j + 48, c33);
    }

    static void Put(ArrayView<double> target, GramParams p, long baseS, bool mirror, int i, int j, double sum)
    {
        int n = p.Samples;
        if (i >= n || j >= n) return;
        if (p.Direct == 0)
        {
            target[(baseS + i) * n + j] = sum;
            return;
        }
        target[(long)i * n + j] += sum;
        if (mirror) target[(long)j * n + i] += sum;
    }

    /// <summary>k[i, j] += Σ_s partials[s, min(i, j), max(i, j)], the slices added in order: one thread per entry.</summary>
    public static void SumSlices(Index1D e, ArrayView<double> partials, ArrayView<double> k, int n, int slices)
    {
        int i = e / n, j = e - i * n;
        int a = Math.Min(i, j), b = Math.Max(i, j);
        long stride = (long)n * n, at = (long)a * n + b;
        double sum = 0;
        for (int s = 0; s < slices; s++) sum += partials[s * stride + at];
        k[e] += sum;
    }
}
