using ILGPU;
using ILGPU.Runtime;

namespace Hybrid.Core.Gpu.Ilgpu;

/// <summary>The Gram kernels of one accelerator, compiled once per device on first use (see
/// <see cref="GpuDevice.KernelSet{T}"/>). A Gram sum keeps K, the uploaded chunk and the per-slice partials in device
/// memory across chunks; only K comes back to the host.</summary>
internal sealed class GpuGramKernels : IGramKernels
{
    readonly GpuDevice device;
    readonly Action<KernelConfig, ArrayView<float>, ArrayView<double>, GramParams> partial;
    readonly Action<Index1D, ArrayView<double>, ArrayView<double>, int, int> sumSlices;
    readonly Action<KernelConfig, ArrayView<double>, ArrayView<double>, ArrayView<double>, ArrayView<double>, int> centre;

    public GpuGramKernels(GpuDevice device)
    {
        this.device = device;
        var a = device.Accelerator;
        partial = a.LoadStreamKernel<ArrayView<float>, ArrayView<double>, GramParams>(GramKernel.Partial);
        sumSlices = a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, ArrayView<double>, int, int>(GramKernel.SumSlices);
        centre = a.LoadStreamKernel<ArrayView<double>, ArrayView<double>, ArrayView<double>, ArrayView<double>, int>(CentreKernel.Run);
    }

    public IGramSum Sum(int n) => new GpuGramSum(this, n);

    /// <summary>Makes the accelerator current on this thread before anything is queued.</summary>
    void Bind() => _ = device.Accelerator;

    public (double[] Centred, double Norm) Centre(double[] k, int n)
    {
        Bind();
        using var gram = new GpuArray<double>(device, n * n);
        using var rowAndColumnMeans = new GpuArray<double>(device, 2 * n);
        using var squares = new GpuArray<double>(device, 1);
        using var centred = new GpuArray<double>(device, n * n);
        gram.CopyFrom(k);
        centre(CentreKernel.Config, gram.View, rowAndColumnMeans.View, centred.View, squares.View, n);
        return (centred.ToArray(), Math.Sqrt(squares.ToArray()[0]));
    }

    public double[] SquaredDistances(ReadOnlyMemory<float> x, int n, int p, double[] gram) => GramKernels.DistancesFromGram(gram, n);

    sealed class GpuGramSum(GpuGramKernels kernels, int n) : IGramSum
    {
        readonly GpuArray<double> k = new(kernels.device, n * n);
        GpuArray<float>? chunk;
        GpuArray<double>? partials;

        public void Add(ReadOnlyMemory<float> x, int features)
        {
            kernels.Bind();
            var plan = GramKernel.Plan(n, features);
            chunk = Fit(chunk, x.Length);
            chunk.CopyFrom(x.Span);
            if (plan.Direct != 0)
            {
                kernels.partial(GramKernel.Config(plan), chunk.View, k.View, plan);
                return;
            }
            partials = Fit(partials, (long)plan.Slices * n * n);
            kernels.partial(GramKernel.Config(plan), chunk.View, partials.View, plan);
            kernels.sumSlices(n * n, partials.View, k.View, n, plan.Slices);
        }

        public double[] Gram()
        {
            kernels.Bind();
            return k.ToArray();
        }

        /// <summary>A buffer of at least <paramref name="length"/> elements: the current one when it is large enough.</summary>
        GpuArray<T> Fit<T>(GpuArray<T>? buffer, long length) where T : unmanaged
        {
            if (buffer is not null && buffer.Length >= length) return buffer;
            buffer?.Dispose();
            return new GpuArray<T>(kernels.device, checked((int)length));
        }

        public void Dispose()
        {
            k.Dispose();
            chunk?.Dispose();
            partials?.Dispose();
        }
    }
}
