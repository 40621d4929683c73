namespace Hybrid.Core.Gpu.Cpu;

/// <summary>Runs a convolution's batch as chunks of whole images, one chunk per task, each task on one core with its own
/// scratch. GEMMs inside a chunk run single-threaded, so our threads and OpenBLAS's never compete for the cores, and a chunk's
/// columns stay in that core's cache. Weight and bias gradients are summed per group of chunks and merged once at the end, in a
/// fixed order. Neither the chunks nor the groups depend on the core count (only on the shape), so a gradient has the same
/// bits on any machine and under any thread setting: the cores only decide who runs which group.</summary>
internal static class ImageChunks
{
    /// <summary>Floats of scratch one chunk should stay within: 1 MB of columns fits a core's L2 beside the GEMM's packing.</summary>
    const int ScratchBudget = 1 << 18;

    /// <summary>Groups of chunks a batch is cut into at most, each with its own partial sums: four per core on the two-core
    /// machines this was measured on, room for the scheduler to balance a core slowed by other work. A fixed number, not the
    /// core count, because the groups fix the order in which a weight gradient's partial sums are added.</summary>
    public const int Groups = 8;

    /// <summary>Batches below this stay with kernels whose GEMMs share one image across the cores (<see cref="ConvGemm"/>);
    /// a fixed number, so the kernel chosen for a shape, and with it the result's bits, never depends on the core count.</summary>
    public const int MinBatch = 2;

    /// <summary>Images per chunk: as many as fit <see cref="ScratchBudget"/> (at least one), and few enough that the batch
    /// fills <see cref="Groups"/> chunks.</summary>
    public static int Size(int batch, long floatsPerImage)
    {
        int byBudget = (int)Math.Clamp(ScratchBudget / Math.Max(1, floatsPerImage), 1, Math.Max(1, batch));
        int byGroups = Math.Max(1, (batch + Groups - 1) / Groups);
        return Math.Min(byBudget, byGroups);
    }

    /// <summary>One worker's scratch and partial sums; arrays come from the shared pool.</summary>
    public sealed class Worker : IDisposable
    {
        public Worker(int columns, int rows, int weights, int biases, bool alone)
        {
            Alone = alone;
            Columns = ArrayPool<float>.Shared.Rent(Math.Max(1, columns));
            Rows = ArrayPool<float>.Shared.Rent(Math.Max(1, rows));
            if (weights > 0)
            {
                Weight = ArrayPool<float>.Shared.Rent(weights);
                Weight.AsSpan(0, weights).Clear();
            }
            if (biases > 0) Bias = new double[biases];
        }

        /// <summary>True when the whole batch is this one chunk (a single image): its GEMMs should then use every core
        /// themselves.</summary>
        public bool Alone { get; }
        /// <summary>Column matrix of the chunk (or its gradient).</summary>
        public float[] Columns { get; }
        /// <summary>Outputs or output gradients of the chunk, channel-major.</summary>
        public float[] Rows { get; }
        /// <summary>This worker's share of the weight gradient, when one is wanted.</summary>
        public float[]? Weight { get; }
        /// <summary>This worker's share of the bias gradient, when one is wanted.</summary>
        public double[]? Bias { get; }

        public void Dispose()
        {
            ArrayPool<float>.Shared.Return(Columns);
            ArrayPool<float>.Shared.Return(Rows);
            if (Weight is not null) ArrayPool<float>.Shared.Return(Weight);
        }
    }

    static unsafe void Add(float[] destination, float[] source, int count)
    {
        fixed (float* d = destination, s = source) Simd.Add(d, s, count);
    }

    /// <summary>Calls <paramref name="body"/>(first image, count, worker) for every chunk of <paramref name="chunk"/> images, then
    /// writes the summed weight and bias gradients (when <paramref name="gradWeight"/> / <paramref name="gradBias"/> are given).
    /// The chunks form a fixed set of groups of consecutive chunks, each summed by one worker in chunk order, and the groups'
    /// sums are merged in group order, so the same call gives the same bits every time and on every core count (floating-point
    /// sums depend on their order; merging in completion order made training runs differ in their last bits).</summary>
    public static void Run(int batch, int chunk, int columns, int rows, float[]? gradWeight, float[]? gradBias, Action<int, int, Worker> body)
    {
        int chunks = (batch + chunk - 1) / chunk, weights = gradWeight?.Length ?? 0, biases = gradBias?.Length ?? 0;
        int groups = Math.Max(1, Math.Min(chunks, Groups));
        var parts = new Worker[groups];
        Parallel.For(0, groups, g =>
        {
            var worker = new Worker(columns, rows, weights, biases, chunks == 1);
            parts[g] = worker;
            for (int c = (int)((long)chunks * g / groups), end = (int)((long)chunks * (g + 1) / groups); c < end; c++)
                body(c * chunk, Math.Min(chunk, batch - c * chunk), worker);
        });
        if (gradWeight is not null) Array.Clear(gradWeight);
        var biasSum = biases > 0 ? new double[biases] : null;
        foreach (var worker in parts)
        {
            if (gradWeight is not null) Add(gradWeight, worker.Weight!, weights);
            if (biasSum is not null)
                for (int o = 0; o < biases; o++) biasSum[o] += worker.Bias![o];
            worker.Dispose();
        }
        if (gradBias is not null)
            for (int o = 0; o < biases; o++) gradBias[o] = (float)biasSum![o];
    }
}
