namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Which routine multiplies a converted chunk on the Cpu backend.</summary>
internal enum GramEngine
{
    /// <summary>The packed managed kernel where FMA hardware exists and n &lt;= 1,024 (measured faster there), else
    /// OpenBLAS's dsyrk when it loaded (and <see cref="Sgemm.ForceManaged"/> is off), else the managed kernel.</summary>
    Auto,
    /// <summary><see cref="GramMicroKernel"/> always (portable: generic vectors, Avx only to speed up packing).</summary>
    Managed,
    /// <summary>cblas_dsyrk always (OpenBLAS must be loaded).</summary>
    OpenBlas,
}

/// <summary>The Gram kernels of the Cpu backend. K = X Xᵀ has few rows (n, the probe inputs, ~100) and a long inner
/// dimension (p, up to millions of features), so the work is split over the features: each chunk of columns is cut
/// into up to 16 pieces, which the thread pool hands to whichever core is free, and each piece converts its features to
/// float64 one cache-sized block at a time and adds the block's Gram into the piece's own accumulator (upper triangle
/// only: half a GEMM's flops). The accumulators are summed in piece order, and the pieces depend only on the shapes, so
/// the result is bitwise the same whatever the core count or scheduling. Converting block by block reads the float32
/// activations once and never writes a float64 copy of them, as NumPy's X.astype(float64) must. The block product is
/// <see cref="GramMicroKernel"/> or cblas_dsyrk (see <see cref="GramEngine"/>); on n = 100 the former is about 1.4
/// times faster per core.</summary>
internal sealed class CpuGramKernels(GramEngine engine) : IGramKernels
{
    /// <summary>Largest n at which the managed kernel was measured at least as fast as dsyrk (1.4x at n = 100, even at
    /// n = 1,024, where C no longer fits in L2); beyond it OpenBLAS's blocking is trusted.</summary>
    const int ManagedMaxRows = 1024;

    public static readonly CpuGramKernels Default = new(GramEngine.Auto);

    /// <summary>The managed kernel whatever the machine, so that tests cover both routines.</summary>
    public static readonly CpuGramKernels Managed = new(GramEngine.Managed);

    /// <summary>dsyrk whatever the matrix size (only where OpenBLAS loaded).</summary>
    public static readonly CpuGramKernels OpenBlasOnly = new(GramEngine.OpenBlas);

    public IGramSum Sum(int n)
    {
        // Read first in every case: it also holds OpenBLAS to one thread, since the workers here share out the cores.
        bool blas = Sgemm.UsesOpenBlas;
        return new CpuGramSum(n, engine switch
        {
            GramEngine.Managed => false,
            GramEngine.OpenBlas => true,
            _ => blas && !(Fma.IsSupported && n <= ManagedMaxRows),
        });
    }

    public (double[] Centred, double Norm) Centre(double[] k, int n)
    {
        // Entry (i, j) of HKH is K[i, j] - rowMean[i] - columnMean[j] + grandMean; K need not be symmetric.
        var rowMean = new double[n];
        var columnMean = new double[n];
        for (int i = 0; i < n; i++)
        {
            var row = k.AsSpan(i * n, n);
            rowMean[i] = HostVectors.Sum(row) / n;
            HostVectors.AddTo(columnMean, row);
        }
        for (int j = 0; j < n; j++) columnMean[j] /= n;
        double grandMean = HostVectors.Sum(rowMean) / n;

        var centred = new double[n * n];
        double squares = 0;
        for (int i = 0; i < n; i++)
            squares += HostVectors.SubtractShifted(centred.AsSpan(i * n, n), k.AsSpan(i * n, n), columnMean, rowMean[i] - grandMean);
        return (centred, Math.Sqrt(squares));
    }

    public double[] SquaredDistances(ReadOnlyMemory<float> x, int n, int p, double[] gram) => GramKernels.DistancesFromGram(gram, n);

    /// <summary>One Gram accumulation: per-piece upper-triangle accumulators, kept across <see cref="Add"/> calls. With
    /// the managed kernel they are padded to whole 8-row panels.</summary>
    sealed unsafe class CpuGramSum(int n, bool openBlas) : IGramSum
    {
        /// <summary>Multiply-adds per piece below which splitting costs more than it saves.</summary>
        const long PieceWork = 1L << 21;

        /// <summary>Most pieces per chunk: enough for a free core to take over from a busy one, few enough that the
        /// accumulators stay small next to the work.</summary>
        const int MaxPieces = 16;

        /// <summary>Doubles in all pieces' accumulators together beyond which fewer pieces are cut (512 MB).</summary>
        const long AccumulatorBudget = 1L << 26;

        /// <summary>Features per float64 block: about 256 KB, which stays in L2 while it is multiplied.</summary>
        readonly int width = Math.Clamp(32768 / n & ~15, 64, 1024);

        /// <summary>Rows of the accumulators and blocks: n, or whole panels for the managed kernel.</summary>
        readonly int rows = openBlas ? n : GramMicroKernel.Rows(n);
        readonly double[]?[] partials = new double[MaxPieces][];

        public void Add(ReadOnlyMemory<float> x, int features)
        {
            long work = (long)n * n * features;
            int pieces = (int)Math.Clamp(Math.Min(Math.Min(work / PieceWork, features / 16), AccumulatorBudget / ((long)rows * rows)),
                1, MaxPieces);
            using var pin = x.Pin();
            nint data = (nint)pin.Pointer;
            if (pieces == 1)
            {
                Accumulate(0, (float*)data, features, 0, features);
                return;
            }
            Parallel.For(0, pieces, piece =>
            {
                // Piece edges on multiples of 16 features keep every row's conversion on whole vectors but the last.
                int lo = Edge(features, piece, pieces), hi = Edge(features, piece + 1, pieces);
                if (hi > lo) Accumulate(piece, (float*)data, features, lo, hi);
            });
        }

        /// <summary>Adds the Gram of features [lo, hi) of the row-major n x ld block at x into the piece's accumulator.</summary>
        void Accumulate(int piece, float* x, int ld, int lo, int hi)
        {
            double[] acc = partials[piece] ??= Zeroed(rows * rows);
            double[] block = ArrayPool<double>.Shared.Rent(rows * width);
            fixed (double* c = acc, a = block)
            {
                for (int f0 = lo; f0 < hi; f0 += width)
                {
                    int k = Math.Min(width, hi - f0);
                    if (openBlas)
                    {
                        for (int i = 0; i < n; i++) Widen(x + (long)i * ld + f0, a + i * k, k);
                        OpenBlas.Dsyrk(Transpose.No, n, k, 1.0, a, k, 1.0, c, n);
                    }
                    else
                    {
                        GramMicroKernel.Pack(x + f0, ld, n, k, a);
                        GramMicroKernel.AddUpper(a, rows, k, c);
                    }
                }
            }
            ArrayPool<double>.Shared.Return(block);
        }

        public double[] Gram()
        {
            var sum = new double[rows * rows];
            foreach (double[]? partial in partials)
                if (partial is not null) HostVectors.AddTo(sum, partial.AsSpan(0, sum.Length));
            // Only the upper triangle is computed; mirroring it makes K exactly symmetric.
            var k = new double[n * n];
            for (int i = 0; i < n; i++)
                for (int j = i; j < n; j++) k[i * n + j] = k[j * n + i] = sum[i * rows + j];
            return k;
        }

        public void Dispose()
        {
            for (int piece = 0; piece < partials.Length; piece++)
                if (partials[piece] is double[] partial)
                {
                    ArrayPool<double>.Shared.Return(partial);
                    partials[piece] = null;
                }
        }

        /// <summary>Accumulators and blocks come from the shared pool: a Matrix call makes one sum per layer, and fresh
        /// arrays of this size would churn the large-object heap.</summary>
        static double[] Zeroed(int length)
        {
            double[] array = ArrayPool<double>.Shared.Rent(length);
            Array.Clear(array, 0, length);
            return array;
        }

        static int Edge(int extent, int piece, int pieces) =>
            piece == pieces ? extent : Math.Min(extent, (int)((long)extent * piece / pieces) & ~15);

        static void Widen(float* source, double* destination, int count)
        {
            int f = 0;
            for (; f <= count - Vector256<float>.Count; f += Vector256<float>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.Load(source + f));
                lower.Store(destination + f);
                upper.Store(destination + f + Vector256<double>.Count);
            }
            for (; f < count; f++) destination[f] = source[f];
        }
    }
}
