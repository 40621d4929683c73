namespace Hybrid.Core.Gpu.Cpu;

/// <summary>The Cpu backend of the mixture passes: one fused float64 pass per EM iteration, on all cores. The rows are
/// cut into blocks (<see cref="CpuMixtureBlock.Rows"/>); consecutive blocks form chunks, one task each, whose partial
/// statistics are added in chunk order (diag, spherical and full passes with AVX-512 run a chunk as one sliced pass).
/// The chunks depend on n, k and d only, so results are the same run to run and whatever the number of cores. Diag and
/// spherical take log-densities and moments from products with the rows [x², x, 1]: the log-densities from one against
/// <see cref="CpuMixtureTerms.Quadratic"/>, the moments from the responsibilities' transpose against them (register
/// tiles of <see cref="MixtureProducts"/> with AVX-512, else dgemm); a full pass with AVX-512 does the same with the
/// outer rows [xxᵀ, x, 1] (<see cref="MixtureOuterRows"/>). Tied, and full outside such a pass (scores, given
/// responsibilities, no AVX-512), take log-densities from one matrix product per block (OpenBLAS dgemm when present,
/// else a plain loop; full with AVX-512 from <see cref="MixtureWhitening"/>) and their scatter from a register-tiled
/// Gram kernel (<see cref="MixtureGram"/>): tied once per block for all components together, full once per
/// component.</summary>
internal sealed unsafe class CpuMixtureKernels : IMixtureKernels
{
    const int MaxChunks = 64;
    // Per-chunk partial statistics kept in memory at most (doubles, 2 MiB); beyond it chunks get fewer and larger. Every
    // pass clears and then adds up all of them: at 64 chunks of k d² (full, 100,000 x 32, k 16: 8.6 MB) that clearing
    // and adding took a sixth of a pass, at 15 chunks it is small beside their work.
    const long PartialBudget = 1L << 18;

    public static readonly CpuMixtureKernels Instance = new(managedProducts: false);

    readonly bool managedProducts;

    /// <param name="managedProducts">Use the plain-loop product even when OpenBLAS is present (tests of the fallback).</param>
    internal CpuMixtureKernels(bool managedProducts) => this.managedProducts = managedProducts;

    bool OpenBlas => !managedProducts && DoubleBlas.UsesOpenBlas;

    /// <summary>The data and its column means, which every block subtracts as it reads its rows (see
    /// <see cref="CpuMixtureTerms"/>), and the partial statistics of the chunks, kept between passes. The centred data
    /// are never stored whole: a copy of 100,000 x 32 values cost a fit tens of milliseconds in page faults alone.</summary>
    sealed class CpuData(double[] data, double[] centre, int samples, int dimensions) : IMixtureData
    {
        public double[] Data { get; } = data;
        public double[] Centre { get; } = centre;
        public int Samples { get; } = samples;
        public int Dimensions { get; } = dimensions;
        public MixtureStatistics[] Partials = [];

        public void Dispose() { }
    }

    public IMixtureData Load(double[] data, int n, int d)
    {
        var centre = new double[d];
        for (int i = 0; i < n; i++)
            for (int a = 0; a < d; a++) centre[a] += data[i * d + a];
        for (int a = 0; a < d; a++) centre[a] /= n;
        return new CpuData(data, centre, n, d);
    }

    public void Pass(IMixtureData data, MixtureParameters parameters, MixtureStatistics statistics)
    {
        var host = (CpuData)data;
        Run(host, CpuMixtureTerms.ForPass(parameters, host.Centre), null, statistics);
    }

    public void Accumulate(IMixtureData data, double[] responsibilities, double[] shifts, MixtureStatistics statistics)
    {
        var host = (CpuData)data;
        Run(host, CpuMixtureTerms.ForAccumulation(statistics.Type, statistics.Components, host.Centre, shifts),
            responsibilities, statistics);
    }

    public double[] WeightedLogProb(IMixtureData data, MixtureParameters parameters)
    {
        var host = (CpuData)data;
        var terms = CpuMixtureTerms.ForPass(parameters, host.Centre);
        int n = host.Samples, d = host.Dimensions, k = parameters.Components;
        var result = new double[n * k];
        bool openBlas = OpenBlas;
        Ranges.Items(Blocks(n), b =>
        {
            int first = b * CpuMixtureBlock.Rows, rows = Math.Min(CpuMixtureBlock.Rows, n - first);
            fixed (double* x = host.Data, centre = host.Centre, output = result)
                CpuMixtureBlock.LogDensities(terms, CpuMixtureBlock.Centred(x + first * d, rows, d, centre), rows,
                    output + first * k, openBlas);
        });
        return result;
    }

    /// <summary>A pass (<paramref name="responsibilities"/> null) or an accumulation of given responsibilities.</summary>
    void Run(CpuData data, CpuMixtureTerms terms, double[]? responsibilities, MixtureStatistics statistics)
    {
        int n = data.Samples, d = data.Dimensions, k = terms.Components, blocks = Blocks(n);
        long partialLength = k + (long)k * d + statistics.Scatter.Length;
        int chunks = (int)Math.Max(1, Math.Min(Math.Min(MaxChunks, blocks), PartialBudget / partialLength));
        // Whole eights where there are more, so that equal chunks share out evenly over 2, 4 or 8 cores: full at
        // 100,000 x 32, k 16 had 15, and one of two cores sat idle for the last of them in every pass.
        if (chunks > 8) chunks &= ~7;
        MixtureStatistics[] partials = PartialsOf(data, statistics, chunks);
        bool openBlas = OpenBlas, sliced = responsibilities == null && CpuMixtureBlock.Sliced(terms, openBlas);
        Ranges.Items(chunks, c =>
        {
            MixtureStatistics part = partials[c];
            part.Clear();
            int firstBlock = (int)((long)blocks * c / chunks), endBlock = (int)((long)blocks * (c + 1) / chunks);
            fixed (double* x = data.Data, centre = data.Centre, given = responsibilities)
            {
                // Diag, spherical and full (AVX-512) run the chunk's rows as one sliced pass: its moments' tiles are
                // read out once.
                if (sliced)
                {
                    int first = firstBlock * CpuMixtureBlock.Rows, end = Math.Min(endBlock * CpuMixtureBlock.Rows, n);
                    part.LogLikelihood =
                        CpuMixtureBlock.SlicedPass(terms, x + (long)first * d, centre, end - first, part);
                }
                else
                    for (int b = firstBlock; b < endBlock; b++)
                    {
                        int first = b * CpuMixtureBlock.Rows, rows = Math.Min(CpuMixtureBlock.Rows, n - first);
                        double* block = x + (long)first * d;
                        if (given == null)
                            part.LogLikelihood += CpuMixtureBlock.Pass(terms, block, centre, rows, part, openBlas);
                        else
                            CpuMixtureBlock.Accumulate(terms, CpuMixtureBlock.Centred(block, rows, d, centre), rows,
                                given + (long)first * k, part, openBlas);
                    }
            }
            if (terms.Type == CovarianceType.Tied) CpuMixtureBlock.MoveTiedScatter(terms, part);
        });
        Combine(partials, chunks, statistics);
    }

    static MixtureStatistics[] PartialsOf(CpuData data, MixtureStatistics like, int chunks)
    {
        var partials = data.Partials;
        if (partials.Length < chunks || partials[0].Type != like.Type || partials[0].Components != like.Components)
            data.Partials = partials = Enumerable.Range(0, chunks)
                .Select(_ => new MixtureStatistics(like.Type, like.Components, like.Dimensions)).ToArray();
        return partials;
    }

    // Chunk order, element by element; the full and tied scatter was accumulated in the upper triangles only.
    static void Combine(MixtureStatistics[] partials, int chunks, MixtureStatistics statistics)
    {
        statistics.Clear();
        for (int c = 0; c < chunks; c++)
        {
            MixtureStatistics part = partials[c];
            statistics.LogLikelihood += part.LogLikelihood;
            Add(statistics.Counts, part.Counts);
            Add(statistics.Sums, part.Sums);
            Add(statistics.Scatter, part.Scatter);
        }
        if (statistics.Type is not (CovarianceType.Full or CovarianceType.Tied)) return;
        int d = statistics.Dimensions;
        for (int m = 0; m < statistics.Scatter.Length / (d * d); m++)
            for (int a = 0; a < d; a++)
                for (int b = a + 1; b < d; b++)
                    statistics.Scatter[m * d * d + b * d + a] = statistics.Scatter[m * d * d + a * d + b];
    }

    static void Add(double[] total, double[] part)
    {
        for (int e = 0; e < total.Length; e++) total[e] += part[e];
    }

    static int Blocks(int n) => (n + CpuMixtureBlock.Rows - 1) / CpuMixtureBlock.Rows;
}
